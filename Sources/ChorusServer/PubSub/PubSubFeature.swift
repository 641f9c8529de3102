import ChorusCore
import NIOCore

/// `subscribe`, `unsubscribe` and `publish`: the connection's topics and patterns in its loop's
/// trie, within the client's rights and the hub's limits, and publishes answered with an `ack`
/// (once stored, for history topics).
struct PubSubFeature: ConnectionFeature {
    var frames: [FrameRoute] {
        [
            FrameRoute("subscribe", limit: .subscribeRatePerConnection),
            FrameRoute("unsubscribe"),
            FrameRoute("publish", limit: .publishRatePerConnection),
        ]
    }

    func receive(_ frame: ClientFrame, id: RawJSON?, on connection: WebSocketConnection) {
        switch frame {
        case .subscribe(let pattern, let since): self.subscribe(connection, to: pattern, since: since, id: id)
        case .unsubscribe(let pattern): self.unsubscribe(connection, from: pattern, id: id)
        case .publish(let publish): self.publish(publish, id: id, from: connection)
        default: break
        }
    }

    private func subscribe(_ connection: WebSocketConnection, to pattern: TopicPattern, since: RecoveryPosition?, id: RawJSON?) {
        let hub = connection.hub
        do {
            if !connection.subscriptions.contains(pattern) { try hub.limits.admitSubscriptions(total: connection.subscriptions.count + 1) }
            _ = connection.shard.subscribe(connection, to: pattern, filtered: try connection.access.authorizeSubscription(to: pattern))
        } catch {
            return connection.replyError(error, id: id)
        }
        guard !hub.features.subscribed(to: pattern, since: since, id: id, on: connection) else { return }
        // Nothing here keeps history: a position asked for cannot be recovered.
        let subscribed = ServerFrame.subscribed(topic: pattern.text, offset: nil, epoch: nil, recovered: since == nil ? nil : false)
        let ready = hub.interests.ready(BrokerInterest(pattern), on: connection.shard.eventLoop)
        // A cluster's broker may still be subscribing: `subscribed` promises every later message.
        // (At once with one process; after a failure too, as the broker subscribes again on reconnect.)
        let answer = connection.answerLater(id: id)
        ready.whenComplete { _ in answer(.success(subscribed)) }
    }

    private func unsubscribe(_ connection: WebSocketConnection, from pattern: TopicPattern, id: RawJSON?) {
        _ = connection.shard.unsubscribe(connection, from: pattern)
        connection.hub.features.unsubscribed(from: pattern, on: connection)
        connection.reply(.unsubscribed(topic: pattern.text), id: id)
    }

    private func publish(_ publish: PublishFrame, id: RawJSON?, from connection: WebSocketConnection) {
        guard !connection.isShuttingDown else {
            return connection.replyError(ProtocolError(.unavailable, "the hub is shutting down; publish again once reconnected"), id: id)
        }
        do {
            try connection.access.authorizePublish(to: publish.topic)
        } catch {
            return connection.replyError(error, id: id)
        }
        let hub = connection.hub
        let answer = connection.answerLater(id: id)
        do {
            try hub.publish(
                topic: publish.topic,
                event: publish.event,
                data: publish.binaryData ?? publish.data.bytes,
                from: connection.info.sender,
                excludingConnection: hub.configuration.deliverToPublisher ? nil : connection.info.id,
                binary: publish.binaryData != nil,
                idempotencyKey: publish.idempotencyKey.map { IdempotencyKey(publisher: connection.publisher, topic: publish.topic.name, key: $0) }
            ) { result in
                // Other topics complete right here; history topics on the store's thread once committed.
                answer(result.map { .ack(messageID: $0.messageID, offset: $0.offset, epoch: $0.epoch, dropped: $0.dropped) })
            }
        } catch {
            answer(.failure(error))
        }
    }
}

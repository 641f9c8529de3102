import ChorusCore
import NIOCore

/// Presence in the topics of `presence: true` namespaces: `presence_join` (which subscribes
/// the connection to the topic, so it hears the diffs), `presence_update`, `presence_leave`,
/// `presence` and `presence_stats`. A member leaves by frame, by unsubscribing from the topic,
/// and when its connection closes for any reason (the hub's `idle_timeout` closes one that
/// stopped answering). Members live in the hub's ``PresenceDirectory``; peers hear of changes
/// through ``PresenceChanges``, never from here.
struct PresenceFeature: ConnectionFeature {
    var frames: [FrameRoute] {
        [
            // Joining subscribes, and a snapshot can be 10,000 members: both count as subscribes.
            FrameRoute("presence_join", limit: .subscribeRatePerConnection),
            FrameRoute("presence", limit: .subscribeRatePerConnection),
            // An update reaches every peer, as a publish does.
            FrameRoute("presence_update", limit: .publishRatePerConnection),
            FrameRoute("presence_leave"),
            FrameRoute("presence_stats"),
        ]
    }

    func receive(_ frame: ClientFrame, id: RawJSON?, on connection: WebSocketConnection) {
        guard let directory = connection.hub.presence else { return }
        do {
            switch frame {
            case .presenceJoin(let topic, let meta, let limit):
                try self.join(connection, topic: topic, meta: meta, page: PresencePage(limit: limit), id: id, directory: directory)
            case .presenceUpdate(let topic, let meta):
                let meta = try Self.meta(meta, for: topic, hub: connection.hub)
                let answer = connection.answerLater(id: id)
                directory.update(client: connection.info.client, topic: topic, meta: meta, on: connection.shard.eventLoop).whenComplete { result in
                    answer(result.mapError(Self.unavailable).flatMap { updated in
                        updated ? .success(Self.ack) : .failure(ProtocolError(.notFound, "not present in '\(topic.name)': send 'presence_join' first"))
                    })
                }
            case .presenceLeave(let topic):
                _ = try Self.options(of: topic, hub: connection.hub)
                let answer = connection.answerLater(id: id)
                // Leaving a topic one is not present in is already done: still an `ack`.
                directory.leave(client: connection.info.client, topic: topic, on: connection.shard.eventLoop).whenComplete { result in
                    answer(result.map { _ in Self.ack }.mapError(Self.unavailable))
                }
            case .presence(let topic, let page):
                try Self.authorizeReading(topic, connection)
                let answer = connection.answerLater(id: id)
                directory.members(of: topic, page: page, on: connection.shard.eventLoop).whenComplete { result in
                    answer(result.map { $0.frame(topic: topic) }.mapError(Self.unavailable))
                }
            case .presenceStats(let topic):
                try Self.authorizeReading(topic, connection)
                let answer = connection.answerLater(id: id)
                directory.counts(of: topic, on: connection.shard.eventLoop).whenComplete { result in
                    answer(result.map { .presenceStats(topic: topic.name, counts: $0) }.mapError(Self.unavailable))
                }
            default:
                break
            }
        } catch let error as ProtocolError {
            connection.replyError(error, id: id)
        } catch {
            connection.replyError(Self.unavailable(error), id: id)
        }
    }

    func unsubscribed(from pattern: TopicPattern, on connection: WebSocketConnection) {
        guard let directory = connection.hub.presence, let topic = pattern.exactTopic,
            connection.hub.configuration.namespace(of: topic)?.presence == true
        else { return }
        _ = directory.leave(client: connection.info.client, topic: topic, on: connection.shard.eventLoop)
    }

    func closed(_ connection: WebSocketConnection) {
        connection.hub.presence?.leaveAll(client: connection.info.client)
    }

    /// Joins as the client may subscribe: the topic's read rules, and its subscription limit.
    private func join(_ connection: WebSocketConnection, topic: Topic, meta: RawJSON?, page: PresencePage, id: RawJSON?, directory: any PresenceDirectory) throws {
        let hub = connection.hub
        let options = try Self.options(of: topic, hub: hub)
        let meta = try meta.map { try Self.meta($0, for: topic, hub: hub) } ?? ByteBuffer(string: "{}")
        let pattern = TopicPattern(topic)
        let filtered = try connection.access.authorizeSubscription(to: pattern)
        if !connection.subscriptions.contains(pattern) { try hub.limits.admitSubscriptions(total: connection.subscriptions.count + 1) }
        let member = PresenceMember(client: connection.info.client, user: connection.info.user, meta: meta, joinedAt: WallClock.milliseconds())
        let answer = connection.answerLater(id: id)
        let loop = connection.shard.eventLoop
        let bound = NIOLoopBound(connection, eventLoop: loop)
        // Subscribed before the join runs, so the diff of any change after the snapshot reaches
        // it (a cluster's directory announces changes on a connection of their own, which can
        // overtake the answer); a refused join takes the subscription it made away again.
        let subscribed = connection.shard.subscribe(connection, to: pattern, filtered: filtered)
        // Completes on the connection's loop.
        directory.join(member, topic: topic, maxMembers: options.presenceMaxMembers, page: page, on: loop).whenComplete { result in
            let connection = bound.value
            switch result {
            case .success where connection.closing:
                // Closed while a remote directory answered: its close already left the rest.
                return directory.leaveAll(client: member.client)
            case .success:
                break
            case .failure:
                if subscribed, !connection.closing { _ = connection.shard.unsubscribe(connection, from: pattern) }
            }
            answer(result.map { $0.frame(topic: topic) }.mapError(Self.unavailable))
        }
    }

    private static let ack = ServerFrame.ack(messageID: nil, offset: nil, epoch: nil)

    /// The namespace options of a presence topic; `forbidden` when its namespace has no presence.
    private static func options(of topic: Topic, hub: Hub) throws(ProtocolError) -> NamespaceOptions {
        guard let options = hub.configuration.namespace(of: topic), options.presence else {
            throw ProtocolError(.forbidden, "namespace '\(topic.namespace)' has no presence (its option \"presence\" is not true)")
        }
        return options
    }

    /// `meta`'s bytes, copied out of the frame they arrived in (a member keeps them), within the namespace's size.
    private static func meta(_ meta: RawJSON, for topic: Topic, hub: Hub) throws(ProtocolError) -> ByteBuffer {
        let limit = try Self.options(of: topic, hub: hub).presenceMaxMetaSize
        guard meta.bytes.readableBytes <= limit else {
            throw ProtocolError(.tooLarge, "presence meta is \(meta.bytes.readableBytes) bytes; namespace '\(topic.namespace)' allows \(limit) (presence_max_meta_size)")
        }
        return ByteBuffer(bytes: meta.bytes.readableBytesView)
    }

    /// A snapshot or count is for members and for whoever may read the topic (members may).
    private static func authorizeReading(_ topic: Topic, _ connection: WebSocketConnection) throws(ProtocolError) {
        _ = try Self.options(of: topic, hub: connection.hub)
        guard connection.access.mayRead(topic) else { throw ProtocolError(.forbidden, "not allowed to read '\(topic.name)'") }
    }

    private static func unavailable(_ error: any Error) -> ProtocolError {
        error as? ProtocolError ?? ProtocolError(.unavailable, "presence is unavailable: \(error)")
    }
}

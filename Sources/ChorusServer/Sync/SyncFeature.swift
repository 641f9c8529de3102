import ChorusCore
import NIOCore

/// Sync collections in `sync: true` namespaces: `sync_subscribe` (a snapshot, or the changes
/// since a version while they are kept, then every change), `sync_unsubscribe` and
/// `sync_mutate`. Reading follows the client's subscribe rights, writing its publish rights.
/// Store calls run in tasks, never on the loop; changes reach subscribers through
/// ``SyncService``, never from here.
struct SyncFeature: ConnectionFeature {
    var frames: [FrameRoute] {
        [
            // A snapshot can be 10,000 records: it counts as a subscribe.
            FrameRoute("sync_subscribe", limit: .subscribeRatePerConnection),
            FrameRoute("sync_unsubscribe"),
            // A mutation reaches every subscriber, as a publish does.
            FrameRoute("sync_mutate", limit: .publishRatePerConnection),
        ]
    }

    func receive(_ frame: ClientFrame, id: RawJSON?, on connection: WebSocketConnection) {
        guard let sync = connection.hub.sync else { return }
        do {
            switch frame {
            case .syncSubscribe(let collection, let since):
                try self.subscribe(connection, to: collection, since: since, id: id, sync: sync)
            case .syncUnsubscribe(let collection):
                _ = try SyncService.options(of: collection, in: connection.hub.configuration)
                sync.subscribers(on: connection.shard.eventLoop).remove(connection, collection: collection.name)
                connection.reply(.ack(messageID: nil, offset: nil, epoch: nil), id: id)
            case .syncMutate(let collection, let mutation):
                try self.mutate(mutation, in: collection, id: id, from: connection, sync: sync)
            default:
                break
            }
        } catch {
            connection.replyError(error, id: id)
        }
    }

    func closed(_ connection: WebSocketConnection) {
        connection.hub.sync?.subscribers(on: connection.shard.eventLoop).removeAll(connection)
    }

    private func subscribe(_ connection: WebSocketConnection, to collection: Topic, since: UInt64?, id: RawJSON?, sync: SyncService) throws(ProtocolError) {
        let hub = connection.hub
        _ = try SyncService.options(of: collection, in: hub.configuration)
        guard connection.access.mayRead(collection) else { throw ProtocolError(.forbidden, "not allowed to read '\(collection.name)'") }
        let loop = connection.shard.eventLoop
        let subscribers = sync.subscribers(on: loop)
        try hub.limits.admitSubscriptions(total: subscribers.count(of: connection, with: collection.name))
        // Buffering starts before the read: see ``SyncSubscribers``.
        let generation = subscribers.start(connection, collection: collection.name)
        sync.subscribing(collection.name)
        let answer = connection.answerLater(id: id)
        let bound = NIOLoopBound(connection, eventLoop: loop)
        let store = sync.store
        let name = collection.name
        Task {
            let reply: ServerFrame
            let version: UInt64
            do {
                if let since, let resumed = try await store.changes(of: name, since: since) {
                    reply = .syncChanges(collection: name, version: resumed.version, changes: resumed.changes)
                    version = resumed.version
                } else {
                    let snapshot = try await store.snapshot(of: name)
                    reply = .syncSnapshot(collection: name, snapshot)
                    version = snapshot.version
                }
            } catch {
                sync.answered(name, at: nil)
                loop.execute { subscribers.remove(bound.value, collection: name) }
                return answer(.failure(ProtocolError(.internal, "the sync store failed: \(error)")))
            }
            sync.answered(name, at: version)
            loop.execute {
                // The answer first (written at once on the loop), then what was buffered after it.
                answer(.success(reply))
                subscribers.live(bound.value, collection: name, after: version, generation: generation)
            }
        }
    }

    private func mutate(_ mutation: SyncMutation, in collection: Topic, id: RawJSON?, from connection: WebSocketConnection, sync: SyncService) throws(ProtocolError) {
        let hub = connection.hub
        let options = try SyncService.options(of: collection, in: hub.configuration)
        guard !connection.isShuttingDown else { throw ProtocolError(.unavailable, "the hub is shutting down; mutate again once reconnected") }
        try connection.access.authorizePublish(to: collection)
        let answer = connection.answerLater(id: id)
        let store = sync.store
        let by = connection.info.user ?? connection.info.client
        let metrics = hub.metrics
        Task {
            do {
                let ack = try await store.mutate(mutation, in: collection.name, limits: options.syncLimits, by: by)
                answer(.success(.syncAck(ack)))
            } catch let refusal as SyncRefusal {
                let error = refusal.protocolError
                guard case .conflict(let current) = refusal else { return answer(.failure(error)) }
                metrics.error(error.code)
                answer(.success(.syncConflict(message: error.message, current: current)))
            } catch {
                answer(.failure(ProtocolError(.internal, "the sync store failed: \(error)")))
            }
        }
    }
}

import ChorusCore
import NIOCore

/// The sync subscriptions of one event loop's connections, and the seam between a snapshot and
/// the live stream. Loop-confined: every method but ``enqueue(_:)`` runs on `eventLoop`.
///
/// Committed changes cross to the loop through a locked inbox, as a ``LoopShard``'s messages
/// do: a group commit's changes (or any burst) cost one hop, and each subscriber is flushed once
/// per drain rather than once per change.
///
/// A subscription starts buffering before its snapshot (or change log) is read; once that read
/// answers at version V, the buffered changes after V are written and later ones go straight
/// through. A change reaches this loop only after it is committed, and the read starts after the
/// subscription, so every change after V is either buffered or arrives later: none is lost,
/// and none at or below V is sent twice.
final class SyncSubscribers: @unchecked Sendable {
    /// A committed change as the frame every subscriber gets (encoded once per node).
    struct Change {
        var collection: String
        var version: UInt64
        var frame: ByteBuffer
    }

    private struct Subscription {
        let connection: WebSocketConnection
        /// Tells a read that answers late from the one a newer `sync_subscribe` started.
        let generation: UInt64
        var seam = SyncSeam<ByteBuffer>()
    }

    let eventLoop: any EventLoop
    private let inbox = LoopInbox<Change>()
    private var collections: [String: [UInt64: Subscription]] = [:]
    private var byConnection: [UInt64: Set<String>] = [:]
    private var generations: UInt64 = 0

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// How many collections `connection` would be subscribed to with `collection`.
    func count(of connection: WebSocketConnection, with collection: String) -> Int {
        let subscribed = self.byConnection[connection.info.id] ?? []
        return subscribed.count + (subscribed.contains(collection) ? 0 : 1)
    }

    /// Starts (or restarts) buffering `collection`'s changes for `connection`; the generation to
    /// hand to ``live(_:collection:after:generation:)``.
    func start(_ connection: WebSocketConnection, collection: String) -> UInt64 {
        self.eventLoop.preconditionInEventLoop()
        self.generations += 1
        let id = connection.info.id
        self.collections[collection, default: [:]][id] = Subscription(connection: connection, generation: self.generations)
        self.byConnection[id, default: []].insert(collection)
        return self.generations
    }

    /// The snapshot or changes at `version` were written: writes the buffered changes after it,
    /// and every later one as it comes. Nothing when the subscription ended or was restarted.
    func live(_ connection: WebSocketConnection, collection: String, after version: UInt64, generation: UInt64) {
        let id = connection.info.id
        guard self.collections[collection]?[id]?.generation == generation,
            let frames = self.collections[collection]?[id]?.seam.answered(at: version)
        else { return }
        for frame in frames { self.write(frame, to: connection) }
    }

    /// Queues committed changes, in version order, for this loop's subscribers; from any thread.
    /// Schedules a drain only when none is pending, so a burst of changes costs one hop.
    func enqueue(_ changes: some Collection<Change>) {
        if self.inbox.append(contentsOf: changes) {
            self.eventLoop.execute { self.drain() }
        }
    }

    /// Writes every queued change to its live subscribers (the buffering ones keep it), then
    /// flushes each connection written to once.
    private func drain() {
        let changes = self.inbox.take()
        var written: [UInt64: WebSocketConnection] = [:]
        for change in changes {
            guard let subscribers = self.collections[change.collection] else { continue }
            for (id, subscription) in subscribers {
                // Looked up again: a write that closes a connection removes its subscriptions.
                guard let frame = self.collections[change.collection]?[id]?.seam.received(change.frame, version: change.version),
                    !subscription.connection.closing
                else { continue }
                _ = subscription.connection.write(frame, flush: false)
                written[id] = subscription.connection
            }
        }
        for connection in written.values where !connection.closing {
            connection.flush()
        }
    }

    /// The changes of `collection` this node missed are no longer kept: its subscribers are
    /// closed with `reconnect: true` (reason `resync`) and subscribe again, never left with a gap.
    func restart(collection: String) {
        for subscription in self.collections[collection]?.values ?? [:].values {
            subscription.connection.disconnect(
                code: .goingAway, reason: .resync, message: "this node missed changes of '\(collection)' no longer kept; subscribe again",
                reconnect: true)
        }
    }

    /// Ends one subscription.
    func remove(_ connection: WebSocketConnection, collection: String) {
        let id = connection.info.id
        self.collections[collection]?[id] = nil
        if self.collections[collection]?.isEmpty == true { self.collections[collection] = nil }
        self.byConnection[id]?.remove(collection)
        if self.byConnection[id]?.isEmpty == true { self.byConnection[id] = nil }
    }

    /// Ends every subscription of a closed connection.
    func removeAll(_ connection: WebSocketConnection) {
        for collection in self.byConnection[connection.info.id] ?? [] {
            self.remove(connection, collection: collection)
        }
    }

    private func write(_ frame: ByteBuffer, to connection: WebSocketConnection) {
        guard !connection.closing else { return }
        _ = connection.write(frame, flush: true)
    }
}

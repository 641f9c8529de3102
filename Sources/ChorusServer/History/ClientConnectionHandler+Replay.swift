import ChorusCore
import NIOCore

/// Runs a connection's replays (WebSocket and SSE alike) through its ``RecoveryGate``: asks the
/// store for pages and writes them on the connection's loop.
extension ClientConnectionHandler {
    /// Gates `scope` under `key` (replacing what `key` had) from now on, the live subscription
    /// being in place: its live history messages are held until `position` answers. `begin`
    /// then writes what must come first (a `subscribed`) and gives the floor and the replay to
    /// start: without a `replay`, only the floor acts (live messages the subscription already
    /// covers are dropped). Nothing happens once `key` was cancelled or replaced meanwhile.
    func startReplay<Position: Sendable>(
        key: String,
        scope: RecoveryGate<Replay>.Scope,
        once position: EventLoopFuture<Position>,
        _ begin: @escaping (Result<Position, any Error>) -> (floor: UInt64, replay: Replay?)
    ) {
        let generation = self.gate.hold(key: key, scope: scope)
        // At once when the position is known already (one node): no hop.
        position.hop(to: self.shard.eventLoop).assumeIsolated().whenComplete { result in
            guard !self.closing, self.gate.awaitsFloor(key: key, generation: generation) else { return }
            let (floor, replay) = begin(result)
            self.gate.start(key: key, scope: scope, floor: floor, cursor: replay?.initialCursor ?? 0, source: replay)
            self.advanceReplay(key)
            self.output.flush()
        }
    }

    /// Does what replay `key` needs next: read a page (only while the client is writable),
    /// or release the live messages held behind it.
    func advanceReplay(_ key: String) {
        guard !self.closing, let history = self.hub.history else { return }
        switch self.gate.next(key: key, writable: self.output.writable) {
        case .none:
            return
        case .release(let held):
            for bytes in held where !self.write(bytes) { return }
        case .read(let generation, let cursor, let replay):
            let read = replay.read
            let first = cursor == replay.initialCursor
            read(history, cursor, first, self.shard.eventLoop).hop(to: self.shard.eventLoop).assumeIsolated().whenComplete { result in
                self.replayPageRead(key: key, generation: generation, replay: replay, first: first, result: result)
            }
        }
    }

    private func replayPageRead(key: String, generation: UInt64, replay: Replay, first: Bool, result: Result<ReplayPage, any Error>) {
        guard !self.closing else { return }
        // A store failure ends the replay: incomplete if nothing was answered yet.
        let page = (try? result.get()) ?? ReplayPage(messages: [], cursor: 0, exhausted: true, complete: first ? false : nil)
        switch self.gate.pageRead(key: key, generation: generation, page: page, sendsPartial: replay.sendsPartial) {
        case .stale:
            return
        case .overtaken:
            return self.cutSlowConsumer()
        case .write(let recovered, let messages):
            if let recovered, let answer = replay.answer, !self.write(answer(recovered)) { return }
            if messages {
                for message in page.messages {
                    let bytes = OutboundMessage.encode(
                        message.envelope, sub: replay.sub(message.topic), for: self.transport, binary: self.acceptsBinary, storeSequence: message.sequence, allocator: ByteBufferAllocator()
                    )
                    guard self.write(bytes) else { return }
                }
            }
        }
        self.advanceReplay(key)
        self.output.flush()
    }
}

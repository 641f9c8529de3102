import ChorusCore
import NIOCore

/// Runs a connection's replays (WebSocket and SSE alike) through its ``RecoveryGate``: reads
/// pages on the history readers' pool and writes them on the connection's loop.
extension ClientConnectionHandler {
    /// Starts (or replaces) the replay `key` and reads its first page; without a `replay`, only
    /// the floor acts (live messages the subscription already covers are dropped).
    func startReplay(key: String, scope: RecoveryGate<Replay>.Scope, floor: UInt64, replay: Replay?) {
        self.gate.start(key: key, scope: scope, floor: floor, cursor: replay?.initialCursor ?? 0, source: replay)
        self.advanceReplay(key)
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
            history.read(on: self.shard.eventLoop) { store in try read(store, cursor, first) }.assumeIsolated().whenComplete { result in
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
                        message.envelope, sub: replay.sub(message.topic), for: self.transport, storeSequence: message.sequence, allocator: ByteBufferAllocator()
                    )
                    guard self.write(bytes) else { return }
                }
            }
        }
        self.advanceReplay(key)
        self.output.flush()
    }
}

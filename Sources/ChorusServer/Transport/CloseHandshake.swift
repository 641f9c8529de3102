import NIOCore

/// How a client connection ends, as a pure state machine: which close to send, when the socket
/// may be closed, and the deadline past which it is closed anyway.
///
/// Every wait has a deadline because the client may not be reading: its close frame would
/// never come and the final write would never complete. The shard's sweep reports the time
/// (``deadlinePassed(now:)``), so an ending connection costs no timer of its own.
struct CloseHandshake: Equatable {
    enum State: Equatable {
        case open
        /// The hub sent its close frame and waits for the client's answer.
        case awaitingPeer(deadline: NIODeadline)
        /// The last bytes are written; the socket closes once they are flushed.
        case flushing(deadline: NIODeadline)
        case closed
    }

    enum Action: Equatable {
        case none
        /// Write the close (and what goes with it), flush, and wait for the client's close frame.
        case sendAndAwaitPeer
        /// Write the final bytes (a close frame, an answer to the client's, the SSE last chunk),
        /// then close once they are flushed.
        case sendAndCloseWhenFlushed
        /// Close the socket now, dropping whatever is still queued.
        case close
    }

    /// How long an ending connection may wait for its client.
    static let gracePeriod = TimeAmount.seconds(2)

    private(set) var state = State.open

    /// True once the connection is ending: fan-out, replies and sweeps leave it alone.
    var isEnding: Bool { self.state != .open }

    /// The hub ends the connection; `awaitPeer` for a WebSocket close handshake, false for a
    /// close that does not wait for an answer (violations, idle clients, SSE).
    mutating func hubCloses(awaitPeer: Bool, now: NIODeadline) -> Action {
        guard self.state == .open else { return .none }
        let deadline = now + Self.gracePeriod
        if awaitPeer {
            self.state = .awaitingPeer(deadline: deadline)
            return .sendAndAwaitPeer
        }
        self.state = .flushing(deadline: deadline)
        return .sendAndCloseWhenFlushed
    }

    /// The client's close frame arrived.
    mutating func peerClosed(now: NIODeadline) -> Action {
        switch self.state {
        case .open:
            self.state = .flushing(deadline: now + Self.gracePeriod)
            return .sendAndCloseWhenFlushed
        case .awaitingPeer:
            self.state = .closed
            return .close
        case .flushing, .closed:
            return .none
        }
    }

    /// From the sweep: closes a connection whose wait is over.
    mutating func deadlinePassed(now: NIODeadline) -> Action {
        switch self.state {
        case .awaitingPeer(let deadline), .flushing(let deadline):
            guard now >= deadline else { return .none }
            self.state = .closed
            return .close
        case .open, .closed:
            return .none
        }
    }

    /// The connection is gone, or cut without ceremony (a slow consumer).
    mutating func closed() {
        self.state = .closed
    }
}

import ChorusCore
import NIOCore

/// What WebSocket and SSE connections share as channel handlers: registration with their shard,
/// the one accounted write path, the recovery gate on fan-out, and how they end (shutdown, peer
/// half-close, the close deadline). History's replays run on it too
/// (`ClientConnectionHandler+Replay.swift`).
protocol ClientConnectionHandler: ChannelInboundHandler, HubConnection {
    var hub: Hub { get }
    var shard: LoopShard { get }
    var output: ConnectionOutput { get }
    var gate: RecoveryGate<Replay> { get set }
    var handshake: CloseHandshake { get set }
    /// The channel became writable again: paused work may go on.
    func resumeOutput()
    /// Ends the connection for a graceful shutdown (`disconnect` and 1001).
    func shutDown()
    /// The channel closed: what serves the connection lets go of it.
    func connectionClosed()
}

extension ClientConnectionHandler {
    /// Set once the connection is ending; fan-out, replays and sweeps then leave it alone.
    var closing: Bool { self.handshake.isEnding }

    func shutDown() {
        self.disconnect(code: .goingAway, reason: .shutdown, message: "hub shutting down", reconnect: true)
    }

    func connectionClosed() {}

    func handlerRemoved(context: ChannelHandlerContext) {
        self.shard.unregister(self)
        self.output.detach()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.handshake.closed()
        self.shard.unregister(self)
        self.connectionClosed()
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if self.output.writabilityChanged(), !self.closing {
            self.resumeOutput()
            for key in self.gate.waiting { self.advanceReplay(key) }
            self.output.flush()
        }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            return self.shutDown()
        }
        if let event = event as? ChannelEvent, event == .inputClosed {
            return context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: Writing

    /// Queues `bytes` for the client; false when it is over its backlog and was cut (4008).
    @discardableResult
    func write(_ bytes: ByteBuffer, flush: Bool = false) -> Bool {
        guard self.output.enqueue(bytes, flush: flush, held: self.gate.heldBytes) else {
            self.cutSlowConsumer()
            return false
        }
        return true
    }

    /// For a client that stopped reading: the close frame would never reach it. 4008 is what
    /// the hub counts and logs, and the client sees the connection end.
    func cutSlowConsumer() {
        guard !self.closing else { return }
        self.hub.metrics.slowConsumerDisconnected()
        self.handshake.closed()
        self.output.abort()
    }

    func enqueue(_ bytes: ByteBuffer, of message: OutboundMessage, flush: Bool) -> Bool {
        self.deliver(bytes, of: message, flush: flush)
    }

    /// Fan-out: live history messages pass the recovery gate first.
    func deliver(_ bytes: ByteBuffer, of message: OutboundMessage, flush: Bool) -> Bool {
        guard !self.closing else { return false }
        if !self.gate.isEmpty, let sequence = message.storeSequence {
            switch self.gate.live(topic: message.envelope.topic, sequence: sequence, bytes: bytes) {
            case .deliver: break
            case .drop: return false
            case .hold:
                if !self.output.admitsHeld(self.gate.heldBytes) { self.cutSlowConsumer() }
                return false
            }
        }
        return self.write(bytes, flush: flush)
    }

    /// From the shard's sweep: an ending connection whose close deadline passed is closed.
    /// True when the connection is ending (the sweep has nothing else to do with it).
    func sweepEnding(now: NIODeadline) -> Bool {
        guard self.closing else { return false }
        if self.handshake.deadlinePassed(now: now) == .close {
            self.output.abort()
        }
        return true
    }

    /// Ends the connection with `bytes` as its last words: awaiting the client's close frame,
    /// or closing once they are flushed; within ``CloseHandshake/gracePeriod`` either way.
    func end(with bytes: [ByteBuffer], awaitPeer: Bool) {
        switch self.handshake.hubCloses(awaitPeer: awaitPeer, now: .now()) {
        case .sendAndAwaitPeer: self.output.finish(bytes, closeWhenFlushed: false)
        case .sendAndCloseWhenFlushed: self.output.finish(bytes, closeWhenFlushed: true, lingering: true)
        case .close, .none: break
        }
    }
}

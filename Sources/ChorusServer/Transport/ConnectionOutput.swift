import NIOCore

/// The write side shared by WebSocket and SSE connections: every byte queued to the client
/// (fan-out, replies, control frames, replays) goes through ``enqueue(_:flush:)`` and counts
/// against one bound while the client is not reading; one flush per burst.
///
/// A class, not a struct: a write can re-enter the handler (NIO reports the channel turning
/// unwritable from inside `write`), and a struct held in the handler would then be mutated
/// while its own mutating method is still running.
final class ConnectionOutput {
    private(set) var context: ChannelHandlerContext?
    private var needsFlush = false
    /// The channel's writability, kept from its events: asking the channel on every fan-out
    /// write (a retain, a release and an atomic load) cost a fifth of the hub's fan-out CPU.
    private(set) var writable = true
    /// Bytes written since the channel stopped being writable (the client stopped reading).
    private var backlogBytes = 0
    let maxBacklog: Int

    init(maxBacklog: Int) {
        self.maxBacklog = maxBacklog
    }

    func attach(_ context: ChannelHandlerContext) {
        self.context = context
        self.writable = context.channel.isWritable
    }

    func detach() {
        self.context = nil
    }

    /// Follows the channel's writability, and reads the client's input only while it is
    /// writable: a client that does not read cannot make the hub produce replies without end.
    /// Returns true when the channel became writable again.
    func writabilityChanged() -> Bool {
        let wasWritable = self.writable
        self.writable = self.context?.channel.isWritable ?? false
        if self.writable {
            self.backlogBytes = 0
        }
        try? self.context?.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: self.writable)
        return self.writable && !wasWritable
    }

    /// Whether `heldBytes` of live messages held behind replays stay within the bound.
    func admitsHeld(_ heldBytes: Int) -> Bool {
        self.backlogBytes + heldBytes <= self.maxBacklog
    }

    /// Writes `bytes` unless the client is over its backlog, counting the `held` bytes of live
    /// messages the connection holds behind a replay (false: the caller cuts it, 4008);
    /// `flush` sends them at once, in one pass down the pipeline.
    func enqueue(_ bytes: ByteBuffer, flush: Bool, held: Int) -> Bool {
        guard let context = self.context else { return false }
        if !self.writable {
            self.backlogBytes += bytes.readableBytes
            if self.backlogBytes + held > self.maxBacklog { return false }
        }
        if flush {
            self.needsFlush = false
            context.writeAndFlush(NIOAny(bytes), promise: nil)
        } else {
            context.write(NIOAny(bytes), promise: nil)
            self.needsFlush = true
        }
        return true
    }

    func flush() {
        guard self.needsFlush, let context = self.context else { return }
        self.needsFlush = false
        context.flush()
    }

    /// Closes at once, dropping whatever is still queued: for a client that stopped reading,
    /// whose queue would never drain (it reconnects and recovers from history).
    func abort() {
        self.needsFlush = false
        self.context?.close(promise: nil)
    }

    /// Writes `bytes` (the connection's last words) and flushes; with `closeWhenFlushed`, closes
    /// once they are sent. A client that does not read never lets them be sent: the
    /// ``CloseHandshake`` deadline closes it then.
    ///
    /// `lingering` closes only the output (for connections the ``CloseHandshake`` deadline
    /// bounds): a socket closed while the client's input is still unread answers with a reset,
    /// and a reset lets the client's kernel drop what the client has not read yet, such as the
    /// close frame that says why. The connection then closes when the client ends its side
    /// (`inputClosed`) or at the deadline, and the handlers discard what it still sends. Where
    /// the output cannot be closed alone, it closes whole.
    func finish(_ bytes: [ByteBuffer], closeWhenFlushed: Bool, lingering: Bool = false) {
        guard let context = self.context else { return }
        for bytes in bytes { context.write(NIOAny(bytes), promise: nil) }
        self.needsFlush = false
        let channel = context.channel
        let flushed = context.writeAndFlush(NIOAny(ByteBuffer()))
        guard closeWhenFlushed else { return }
        flushed.whenComplete { _ in
            guard lingering else { return channel.close(promise: nil) }
            channel.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
        }
    }
}

import NIOCore

/// The write side shared by WebSocket and SSE connections: raw pre-encoded bytes, a bounded
/// backlog while the client is not reading, and one flush per burst.
///
/// A class, not a struct: a write can re-enter the handler (NIO reports the channel turning
/// unwritable from inside `write`), and a struct held in the handler would then be mutated
/// while its own mutating method is still running.
final class ConnectionOutput {
    private(set) var context: ChannelHandlerContext?
    private var needsFlush = false
    /// The channel's writability, kept from its events: asking the channel on every fan-out
    /// write (a retain, a release and an atomic load) cost a fifth of the hub's fan-out CPU.
    private var writable = true
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

    func writabilityChanged() {
        self.writable = self.context?.channel.isWritable ?? false
        if self.writable {
            self.backlogBytes = 0
        }
    }

    /// Writes without flushing; the next ``flush()`` sends it.
    func write(_ bytes: ByteBuffer) {
        guard let context = self.context else { return }
        context.write(NIOAny(bytes), promise: nil)
        self.needsFlush = true
    }

    /// Writes fan-out bytes unless the client is over its backlog (false: the caller closes
    /// it, 4008); `flush` sends them at once, in one pass down the pipeline.
    func enqueue(_ bytes: ByteBuffer, flush: Bool) -> Bool {
        guard let context = self.context else { return false }
        if !self.writable {
            self.backlogBytes += bytes.readableBytes
            if self.backlogBytes > self.maxBacklog { return false }
        }
        if flush {
            self.needsFlush = false
            context.writeAndFlush(NIOAny(bytes), promise: nil)
        } else {
            self.write(bytes)
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

    /// Writes `bytes` (if any), flushes, then closes the channel.
    func writeThenClose(_ bytes: ByteBuffer?) {
        guard let context = self.context else { return }
        if let bytes { context.write(NIOAny(bytes), promise: nil) }
        self.needsFlush = false
        let channel = context.channel
        context.writeAndFlush(NIOAny(ByteBuffer())).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}

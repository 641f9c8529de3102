import NIOCore

/// The write side shared by WebSocket and SSE connections: raw pre-encoded bytes, a bounded
/// backlog while the client is not reading, and one flush per burst.
struct ConnectionOutput {
    private(set) var context: ChannelHandlerContext?
    private var needsFlush = false
    /// Bytes written since the channel stopped being writable (the client stopped reading).
    private var backlogBytes = 0
    let maxBacklog: Int

    init(maxBacklog: Int) {
        self.maxBacklog = maxBacklog
    }

    mutating func attach(_ context: ChannelHandlerContext) {
        self.context = context
    }

    mutating func detach() {
        self.context = nil
    }

    mutating func writabilityChanged() {
        if self.context?.channel.isWritable == true {
            self.backlogBytes = 0
        }
    }

    /// Writes without flushing; the next ``flush()`` sends it.
    mutating func write(_ bytes: ByteBuffer) {
        guard let context = self.context else { return }
        context.write(NIOAny(bytes), promise: nil)
        self.needsFlush = true
    }

    /// Writes fan-out bytes unless the client is over its backlog; false means it is, and the
    /// caller closes it (4008).
    mutating func enqueue(_ bytes: ByteBuffer) -> Bool {
        guard let context = self.context else { return false }
        if !context.channel.isWritable {
            self.backlogBytes += bytes.readableBytes
            if self.backlogBytes > self.maxBacklog { return false }
        }
        self.write(bytes)
        return true
    }

    mutating func flush() {
        guard self.needsFlush, let context = self.context else { return }
        self.needsFlush = false
        context.flush()
    }

    /// Writes `bytes` (if any), flushes, then closes the channel.
    mutating func writeThenClose(_ bytes: ByteBuffer?) {
        guard let context = self.context else { return }
        if let bytes { context.write(NIOAny(bytes), promise: nil) }
        self.needsFlush = false
        let channel = context.channel
        context.writeAndFlush(NIOAny(ByteBuffer())).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}

import NIOCore
import NIOEmbedded
import Testing

@testable import ChorusServer

/// The one accounted write path, on an `EmbeddedChannel`: what a client that stopped reading
/// can make the hub queue.
@Suite struct ConnectionOutputTests {
    /// Gives the test the channel handler context a connection writes through.
    final class ContextHolder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var context: ChannelHandlerContext?
        func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    }

    static func attached(maxBacklog: Int) throws -> (EmbeddedChannel, ConnectionOutput) {
        let holder = ContextHolder()
        let channel = EmbeddedChannel(handler: holder)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let output = ConnectionOutput(maxBacklog: maxBacklog)
        output.attach(try #require(holder.context))
        return (channel, output)
    }

    @Test func everyWriteCountsWhileTheClientIsNotReading() throws {
        let (channel, output) = try Self.attached(maxBacklog: 100)
        // Writable: nothing is counted.
        #expect(output.enqueue(ByteBuffer(repeating: 1, count: 500), flush: true, held: 0))
        channel.isWritable = false
        #expect(!output.writabilityChanged())
        #expect(!output.writable)
        #expect(output.enqueue(ByteBuffer(repeating: 1, count: 60), flush: false, held: 0))
        // Held live messages count with what is queued.
        #expect(output.admitsHeld(40))
        #expect(!output.admitsHeld(41))
        #expect(!output.enqueue(ByteBuffer(repeating: 1, count: 30), flush: false, held: 20))
        // Writable again: the count starts over, and the connection says it may go on.
        channel.isWritable = true
        #expect(output.writabilityChanged())
        #expect(output.enqueue(ByteBuffer(repeating: 1, count: 1000), flush: true, held: 0))
        _ = try channel.finish()
    }

    /// The last words are written and flushed; without `closeWhenFlushed` the channel stays
    /// open (the close handshake's deadline, not the flush, ends it).
    @Test func finishWritesTheLastWords() throws {
        let (channel, output) = try Self.attached(maxBacklog: 100)
        output.finish([ByteBuffer(string: "bye")], closeWhenFlushed: false)
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "bye"))
        #expect(channel.isActive)
        output.finish([], closeWhenFlushed: true)
        #expect(!channel.isActive)
    }
}

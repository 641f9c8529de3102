import ChorusCore
import NIOCore
import NIOWebSocket

/// `/echo` (only with `echo_endpoint`): sends every message back as it came, for WebSocket
/// conformance suites (Autobahn|Testsuite) to exercise the hub's frame handling.
final class EchoConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var parser: WebSocketFrameParser
    private var assembler: WebSocketMessageAssembler
    private let output: ConnectionOutput
    private var closing = false
    private let allocator = ByteBufferAllocator()

    init(maxMessageSize: Int) {
        self.parser = WebSocketFrameParser(maxFrameSize: maxMessageSize)
        self.assembler = WebSocketMessageAssembler(maxMessageSize: maxMessageSize)
        self.output = ConnectionOutput(maxBacklog: .max)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.output.attach(context)
        // The 101 response the router wrote without flushing.
        context.flush()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.output.detach()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.parser.append(Self.unwrapInboundIn(data))
        do throws(WebSocketFrameParser.Failure) {
            while !self.closing, let frame = try self.parser.next() {
                self.receive(frame)
            }
        } catch {
            self.fail(error == .tooLarge ? 1009 : 1002)
        }
    }

    private func receive(_ frame: WebSocketFrame) {
        switch self.assembler.receive(frame) {
        case .message(let text, let payload):
            self.echo(WebSocketFrameEncoding.frame(opcode: text ? 0x1 : 0x2, allocator: self.allocator, capacity: payload.readableBytes) {
                $0.writeImmutableBuffer(payload)
            })
        case .ping(let payload):
            self.echo(WebSocketFrameEncoding.controlFrame(opcode: 0xA, payload: payload, allocator: self.allocator))
        case .close(let code):
            self.closing = true
            self.output.finish([WebSocketFrameEncoding.closeFrame(code: code.rawValue, reason: "", allocator: self.allocator)], closeWhenFlushed: true)
        case .fail(let code, let reason):
            self.closing = true
            self.output.finish([WebSocketFrameEncoding.closeFrame(code: code.rawValue, reason: reason, allocator: self.allocator)], closeWhenFlushed: true)
        case .pong, nil:
            break
        }
    }

    /// Unbounded backlog: a conformance suite reads everything it is sent.
    private func echo(_ bytes: ByteBuffer) {
        _ = self.output.enqueue(bytes, flush: false, held: 0)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.output.flush()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func fail(_ code: UInt16) {
        self.closing = true
        self.output.finish([WebSocketFrameEncoding.closeFrame(code: code, reason: "", allocator: self.allocator)], closeWhenFlushed: true)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent || (event as? ChannelEvent) == .inputClosed {
            self.closing = true
            return self.output.finish([WebSocketFrameEncoding.closeFrame(code: 1001, reason: "", allocator: self.allocator)], closeWhenFlushed: true)
        }
        context.fireUserInboundEventTriggered(event)
    }
}

import HTTPTypes
import NIOCore
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Answers every request it receives with a whole response (head, body `r<number>`, end), where
/// Hummingbird's `NIOAsyncChannel` would be: the `router` target's synchronous model of
/// Hummingbird's asynchronous answers. Four bits per request, from `timings`, decide when it
/// answers (at once, a loop tick after the head, when the request's end arrives, or a tick
/// after that) and whether the response says `Connection: close` (and the stand-in then closes
/// the channel, as Hummingbird does). Answers go out in request order, as Hummingbird's do.
final class StandInResponder: ChannelInboundHandler {
    typealias InboundIn = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    private enum Timing: Int {
        case atHead, tickAfterHead, atEnd, tickAfterEnd
    }

    private struct Request {
        var number: Int
        var timing: Timing
        var close: Bool
        var ended = false
        var ready = false
    }

    private let timings: UInt16
    /// How many requests arrived.
    private(set) var received = 0
    /// Requests not answered yet, oldest first; parts arriving belong to the last.
    private var unanswered: [Request] = []
    /// A response said `Connection: close`: nothing more is answered.
    private var closing = false

    init(timings: UInt16) {
        self.timings = timings
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Hummingbird's handlers go when the connection is taken over; nothing may follow.
        precondition(
            (try? context.pipeline.syncOperations.handler(type: HTTP1ToHTTPServerCodec.self)) != nil,
            "a request reached the HTTP responder after the connection was taken over"
        )
        switch Self.unwrapInboundIn(data) {
        case .head:
            let bits = Int(self.timings >> ((self.received % 4) * 4)) & 0xF
            self.unanswered.append(Request(number: self.received, timing: Timing(rawValue: bits & 3)!, close: bits & 4 != 0))
            self.received += 1
            self.reached(.atHead, or: .tickAfterHead, context: context)
        case .body:
            break
        case .end:
            guard !self.unanswered.isEmpty else { return }
            self.unanswered[self.unanswered.count - 1].ended = true
            self.reached(.atEnd, or: .tickAfterEnd, context: context)
        }
    }

    /// The newest request reached a point: answer now if its timing is `now`, on the next loop tick if `tick`.
    private func reached(_ now: Timing, or tick: Timing, context: ChannelHandlerContext) {
        guard let last = self.unanswered.last else { return }
        if last.timing == now {
            self.unanswered[self.unanswered.count - 1].ready = true
            self.answerReady(context: context)
        } else if last.timing == tick {
            let bound = NIOLoopBound((responder: self, context: context), eventLoop: context.eventLoop)
            context.eventLoop.execute {
                bound.value.responder.ready(last.number, context: bound.value.context)
            }
        }
    }

    private func ready(_ number: Int, context: ChannelHandlerContext) {
        guard let index = self.unanswered.firstIndex(where: { $0.number == number }) else { return }
        self.unanswered[index].ready = true
        self.answerReady(context: context)
    }

    /// Answers the oldest requests that are ready, stopping at the first that is not.
    private func answerReady(context: ChannelHandlerContext) {
        while !self.closing, let first = self.unanswered.first, first.ready {
            self.unanswered.removeFirst()
            self.answer(first, context: context)
        }
    }

    private func answer(_ request: Request, context: ChannelHandlerContext) {
        let body = ByteBuffer(string: "r\(request.number)")
        var fields = HTTPFields()
        fields[.contentLength] = String(body.readableBytes)
        if request.close { fields[.connection] = "close" }
        context.write(Self.wrapOutboundOut(.head(HTTPResponse(status: .ok, headerFields: fields))), promise: nil)
        context.write(Self.wrapOutboundOut(.body(body)), promise: nil)
        guard request.close else {
            return context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
        }
        self.closing = true
        let channel = context.channel
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}

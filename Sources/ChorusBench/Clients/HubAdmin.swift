import NIOCore
import NIOHTTP1
import NIOPosix

/// One HTTP request to a hub's API on a connection of its own (creating and deleting the
/// consumer a run measures): the status and the body of the answer.
enum HubAdmin {
    static func request(
        _ method: HTTPMethod, host: String, port: Int, path: String, body: String? = nil, apiKey: String?, group: any EventLoopGroup
    ) async throws -> (status: UInt, body: String) {
        let answer = group.next().makePromise(of: (UInt, String).self)
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(AnswerHandler(answer: answer))
                }
            }
            .connect(host: host, port: port).get()
        defer { channel.close(promise: nil) }
        var headers = HTTPHeaders([("Host", "\(host):\(port)"), ("Content-Length", String(body?.utf8.count ?? 0)), ("Connection", "close")])
        if body != nil { headers.add(name: "Content-Type", value: "application/json") }
        if let apiKey { headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)), promise: nil)
        if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: body))), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let timeout = channel.eventLoop.scheduleTask(in: .seconds(10)) { answer.fail(BenchError("\(method) \(path): no answer within 10 s")) }
        defer { timeout.cancel() }
        return try await answer.futureResult.get()
    }

    private final class AnswerHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart

        private let answer: EventLoopPromise<(UInt, String)>
        private var status: UInt = 0
        private var body = ByteBuffer()

        init(answer: EventLoopPromise<(UInt, String)>) {
            self.answer = answer
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch Self.unwrapInboundIn(data) {
            case .head(let head): self.status = head.status.code
            case .body(var part): self.body.writeBuffer(&part)
            case .end: self.answer.succeed((self.status, String(buffer: self.body)))
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.answer.fail(BenchError("the hub closed the connection without an answer"))
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            self.answer.fail(error)
            context.close(promise: nil)
        }
    }
}

import AsyncHTTPClient
import Glibc
#if canImport(CNIOLinux)
    import CNIOLinux
#endif
import ChorusCore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

@testable import ChorusServer

/// `WebhookClient` against a real HTTP server on loopback that answers as each test scripts it.
@Suite struct WebhookClientTests {
    static let secret = try! WebhookSecret(parsing: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")

    @Test func aDeliveryIsSignedAndSucceedsOn2xx() async throws {
        try await ScriptedServer.with(.answer(204)) { server, client in
            let body = ByteBuffer(string: #"{"type":"order.created","data":{"id":7}}"#)
            let endpoint = WebhookEndpoint(url: server.url, secrets: [Self.secret], headers: ["X-Tenant": "acme", "webhook-id": "forged"], timeout: .seconds(5))
            let attempt = await client.deliver(body, id: "evt_1", to: endpoint, now: 1_700_000_000_123)
            #expect(attempt.status == 204)
            #expect(attempt.error == nil)
            #expect(attempt.outcome == .succeeded)
            let request = try #require(server.requests.first)
            #expect(server.requests.count == 1)
            #expect(request.method == .POST)
            #expect(request.body == String(buffer: body))
            #expect(request.headers["content-type"] == ["application/json"])
            #expect(request.headers["x-tenant"] == ["acme"])
            // The Standard Webhooks headers cannot be overridden by the endpoint's own headers.
            #expect(request.headers["webhook-id"] == ["evt_1"])
            #expect(request.headers["webhook-timestamp"] == ["1700000000"])
            try WebhookSignature.verify(
                id: "evt_1", timestamp: "1700000000", signature: try #require(request.headers["webhook-signature"].first),
                body: body, secrets: [Self.secret], now: 1_700_000_000)
        }
    }

    @Test func aFailedAnswerCarriesItsStatusReasonAndRetryAfter() async throws {
        try await ScriptedServer.with(.answer(503, headers: ["Retry-After": "7"], body: "busy\nback soon")) { server, client in
            let attempt = await client.deliver(ByteBuffer(string: "{}"), id: "evt_2", to: server.endpoint, now: 1_700_000_000_000)
            #expect(attempt.status == 503)
            #expect(attempt.retryAfter == .seconds(7))
            #expect(attempt.error == "HTTP 503: busy back soon")
            #expect(attempt.outcome == .failed(retryAfter: .seconds(7)))
        }
    }

    @Test func goneDisablesAndALongReasonIsCut() async throws {
        try await ScriptedServer.with(.answer(410, body: String(repeating: "x", count: 5000))) { server, client in
            let attempt = await client.deliver(ByteBuffer(string: "{}"), id: "evt_3", to: server.endpoint, now: 0)
            #expect(attempt.outcome == .gone)
            #expect(attempt.error == "HTTP 410: " + String(repeating: "x", count: WebhookClient.errorBodyLimit))
        }
    }

    @Test func aRedirectIsAFailureAndIsNotFollowed() async throws {
        try await ScriptedServer.with(.answer(307, headers: ["Location": "/elsewhere"])) { server, client in
            let attempt = await client.deliver(ByteBuffer(string: "{}"), id: "evt_4", to: server.endpoint, now: 0)
            #expect(attempt.status == 307)
            #expect(attempt.outcome == .failed())
            #expect(server.requests.map(\.uri) == ["/hook"])
        }
    }

    @Test func anEndpointThatNeverAnswersTimesOut() async throws {
        try await ScriptedServer.with(.hang) { server, client in
            var endpoint = server.endpoint
            endpoint.timeout = .milliseconds(300)
            let attempt = await client.deliver(ByteBuffer(string: "{}"), id: "evt_5", to: endpoint, now: 0)
            #expect(attempt.status == nil)
            #expect(attempt.outcome == .failed())
            #expect(attempt.error == "no answer within 0.3 seconds")
        }
    }

    @Test func aRefusedConnectionIsAFailedAttempt() async throws {
        // A port held bound but not listening for the test's length: connections to it are
        // refused, and no other test can take it meanwhile (a port closed again could be).
        let held = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(held >= 0)
        defer { close(held) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(held, $0, length) == 0 && getsockname(held, $0, &length) == 0 }
        }
        #expect(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: WebhookClient.httpConfiguration)
        let attempt = await WebhookClient(http: http).deliver(
            ByteBuffer(string: "{}"), id: "evt_6", to: WebhookEndpoint(url: "http://127.0.0.1:\(port)/hook", secrets: [Self.secret], timeout: .seconds(120)), now: 0)
        try await http.shutdown()
        #expect(attempt.status == nil)
        #expect(attempt.outcome == .failed())
        #expect(attempt.error == "cannot connect: Connection refused")
        // Failed at once, not after the client's own retries for the whole timeout. At once is
        // milliseconds; the bound is half the timeout because a parallel run on a loaded machine
        // once took 36 s to hand the refusal back.
        #expect(attempt.duration < .seconds(60))
    }
}

/// An HTTP/1.1 server that records each request and answers with `reply`.
final class ScriptedServer: Sendable {
    enum Reply: Sendable {
        case answer(Int, headers: [String: String] = [:], body: String = "")
        case hang
    }

    struct Request: Sendable {
        var method: HTTPMethod
        var uri: String
        var headers: HTTPHeaders
        var body: String
    }

    private let recorded = NIOLockedValueBox<[Request]>([])
    let url: String

    var requests: [Request] { self.recorded.withLockedValue { $0 } }
    var endpoint: WebhookEndpoint { WebhookEndpoint(url: self.url, secrets: [WebhookClientTests.secret], timeout: .seconds(5)) }

    private init(port: Int) {
        self.url = "http://127.0.0.1:\(port)/hook"
    }

    /// Runs `body` with a server answering `reply` and a webhook client, then stops both.
    static func with(_ reply: Reply, _ body: (ScriptedServer, WebhookClient) async throws -> Void) async throws {
        let box = NIOLockedValueBox<ScriptedServer?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(reply: reply) { request in box.withLockedValue { $0 }?.recorded.withLockedValue { $0.append(request) } })
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let server = ScriptedServer(port: channel.localAddress!.port!)
        box.withLockedValue { $0 = server }
        let http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: WebhookClient.httpConfiguration)
        do {
            try await body(server, WebhookClient(http: http))
        } catch {
            try? await http.shutdown()
            try? await channel.close()
            throw error
        }
        try await http.shutdown()
        try await channel.close()
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let reply: Reply
        let record: @Sendable (Request) -> Void
        var head: HTTPRequestHead?
        var body = ""

        init(reply: Reply, record: @escaping @Sendable (Request) -> Void) {
            self.reply = reply
            self.record = record
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch self.unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                self.body = ""
            case .body(let buffer):
                self.body += String(buffer: buffer)
            case .end:
                guard let head = self.head else { return }
                self.record(Request(method: head.method, uri: head.uri, headers: head.headers, body: self.body))
                guard case .answer(let status, let headers, let text) = self.reply else { return }
                var fields = HTTPHeaders(headers.map { ($0.key, $0.value) })
                fields.add(name: "Content-Length", value: String(text.utf8.count))
                context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: fields))), promise: nil)
                context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
                context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}

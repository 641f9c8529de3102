import Hummingbird
import Logging
import MetricsTestKit
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing

@testable import ChorusServer

/// `GET /metrics` exists only when the HTTP API is given an exposition; each scrape first sets
/// the gauges counted when read.
@Suite struct MetricsRouteTests {
    static func get(_ path: String, from routes: APIRoutes) async throws -> Response {
        let router = Router(context: ChorusRequestContext.self)
        routes.register(on: router)
        let request = Request(head: HTTPRequest(method: .get, scheme: "http", authority: "x", path: path), body: .init(buffer: ByteBuffer()))
        let context = ChorusRequestContext(source: .init(channel: EmbeddedChannel(), logger: Logger(label: "test")))
        return try await router.buildResponder().respond(to: request, context: context)
    }

    static func hub(metricsFactory: TestMetrics, group: MultiThreadedEventLoopGroup) throws -> Hub {
        let configuration = HubConfiguration()
        return try Hub(configuration: configuration, eventLoopGroup: group, authenticator: Authenticator(configuration: configuration), metricsFactory: metricsFactory)
    }

    @Test func anExpositionIsServedAfterTheCountedGaugesAreSet() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let factory = TestMetrics()
        let exposition = MetricsExposition(contentType: "text/plain; version=0.0.4", render: { Array("app_up 1\n".utf8) })
        let response = try await Self.get("/metrics", from: APIRoutes(hub: Self.hub(metricsFactory: factory, group: group), metricsExposition: exposition))
        try await group.shutdownGracefully()
        #expect(response.status == .ok)
        #expect(response.headers[.contentType] == "text/plain; version=0.0.4")
        #expect(try factory.expectMeter(HubMetricName.topics.rawValue).lastValue == 0)
        #expect(try factory.expectMeter(HubMetricName.idempotencyKeys.rawValue).lastValue == 0)
    }

    @Test func withoutAnExpositionThereIsNoMetricsRoute() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let routes = APIRoutes(hub: try Self.hub(metricsFactory: TestMetrics(), group: group), metricsExposition: nil)
        #expect(try await Self.get("/metrics", from: routes).status == .notFound)
        #expect(try await Self.get("/health", from: routes).status == .ok)
        try await group.shutdownGracefully()
    }
}

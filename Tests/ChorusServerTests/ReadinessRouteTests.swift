import ChorusCore
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import MetricsTestKit
import NIOCore
import NIOPosix
import Testing

@testable import ChorusServer

/// `GET /ready` reports the checks registered with the hub: 200 when all pass, 503 with an
/// `unavailable` error naming the failing one; with none registered, the plain answer.
@Suite struct ReadinessRouteTests {
    struct Check: ReadinessCheck {
        let name: String
        let failure: String?

        func checkReady() async throws {
            if let failure { throw Failure(description: failure) }
        }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Keeps what a response body writes (a class: the body takes the writer by value).
    final class Collector: ResponseBodyWriter {
        var buffer = ByteBuffer()
        func write(_ buffer: ByteBuffer) async throws { self.buffer.writeImmutableBuffer(buffer) }
        func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }

    /// The status and JSON body of `/ready` from a hub with `checks` registered.
    static func ready(_ checks: [Check]) async throws -> (HTTPResponse.Status, [String: Any]) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let hub = try MetricsRouteTests.hub(metricsFactory: TestMetrics(), group: group)
        for check in checks { hub.readiness.register(check) }
        let response = try await MetricsRouteTests.get("/ready", from: APIRoutes(hub: hub, metricsExposition: nil))
        try await group.shutdownGracefully()
        let collector = Collector()
        try await response.body.write(collector)
        let object = try JSONSerialization.jsonObject(with: Data(collector.buffer.readableBytesView)) as? [String: Any]
        return (response.status, try #require(object))
    }

    @Test func withoutDependenciesTheHubIsReady() async throws {
        let (status, body) = try await Self.ready([])
        #expect(status == .ok)
        #expect(body as NSDictionary == ["status": "ready"])
    }

    @Test func everyPassingCheckIsListed() async throws {
        let (status, body) = try await Self.ready([Check(name: "postgres", failure: nil), Check(name: "redis", failure: nil)])
        #expect(status == .ok)
        #expect(body["status"] as? String == "ready")
        #expect(body["checks"] as? NSDictionary == ["postgres": ["status": "ok"], "redis": ["status": "ok"]])
    }

    @Test func aFailingCheckMakesIt503WithItsError() async throws {
        let (status, body) = try await Self.ready([Check(name: "postgres", failure: "cannot reach PostgreSQL"), Check(name: "redis", failure: nil)])
        #expect(status == .serviceUnavailable)
        #expect(body["status"] as? String == "not_ready")
        #expect(body["checks"] as? NSDictionary == ["postgres": ["status": "failing", "error": "cannot reach PostgreSQL"], "redis": ["status": "ok"]])
        #expect(body["error"] as? NSDictionary == ["code": "unavailable", "message": "postgres: cannot reach PostgreSQL"])
    }
}

import NIOCore
import NIOPosix
import Testing

@testable import ChorusClient

/// A server that accepts TCP connections and never answers: the handshake must not hold the
/// client forever.
@Suite struct SilentServerTests {
    @Test func anUnansweredUpgradeCountsAsAFailedAttempt() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { $0.eventLoop.makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let port = try #require(server.localAddress?.port)
        var configuration = ChorusClient.Configuration()
        configuration.connectTimeout = .milliseconds(200)
        configuration.backoff = Backoff(base: .milliseconds(1), cap: .milliseconds(5))
        configuration.maxReconnectAttempts = 2
        let client = try ChorusClient(url: "ws://127.0.0.1:\(port)/ws", configuration: configuration)
        await client.connect()
        await #expect(throws: ChorusClientError.self) { try await client.waitUntilConnected() }
        #expect(await client.state == .error)
        #expect(await client.lastError?.code == .reconnectFailed)
        try await server.close()
    }
}

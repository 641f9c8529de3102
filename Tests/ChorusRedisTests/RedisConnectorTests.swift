@testable import ChorusRedis
import ChorusTestSupport
import NIOCore
import NIOPosix
import Testing

@Suite(.serialized) struct RedisConnectorTests {
    @Test func refusesAServerCertificateNoTrustedCASigned() async throws {
        let server = try RedisTestServer(tls: true)
        defer { server.stop() }  // keeps it alive to the end
        let tlsPort = try #require(server.tlsPort)
        let connector = RedisConnector(configuration: try RedisConfiguration(url: "rediss://127.0.0.1:\(tlsPort)"), eventLoop: MultiThreadedEventLoopGroup.singleton.next())
        await #expect(throws: (any Error).self) { try await connector.connect() }
    }

    @Test func aMissingCAFileIsATLSError() async throws {
        let connector = RedisConnector(configuration: try RedisConfiguration(url: "rediss://127.0.0.1:1?ca=/nonexistent/ca.pem"), eventLoop: MultiThreadedEventLoopGroup.singleton.next())
        await #expect { try await connector.connect() } throws: { ($0 as? RedisError)?.code == .tls }
    }

    @Test func connectsOverAUnixSocket() async throws {
        let server = try RedisTestServer(unixSocket: true)
        defer { server.stop() }  // keeps it alive to the end
        let connector = RedisConnector(configuration: try RedisConfiguration(url: "redis+unix://\(server.unixSocketPath)?db=1"), eventLoop: MultiThreadedEventLoopGroup.singleton.next())
        let channel = try await connector.connect()
        #expect(try await channel.send(RESPCommand("CLIENT", "INFO")).get().string?.contains("db=1") == true)
        try await channel.close()
    }
}

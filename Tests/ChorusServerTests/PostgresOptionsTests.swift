import ChorusPostgres
import Logging
import NIOPosix
import Testing

@testable import ChorusServer

/// `postgres_url`, `postgres_pool_size` and `postgres_connect_timeout`: none by default (no
/// PostgreSQL, nothing registered with `/ready`), checked when loaded, passed to the client.
@Suite struct PostgresOptionsTests {
    @Test func noPostgreSQLByDefault() throws {
        let configuration = try HubConfiguration.load(arguments: [], environment: [:])
        #expect(configuration.postgresURL == nil)
        #expect(try ChorusServer.openPostgres(configuration, eventLoopGroup: .singletonMultiThreadedEventLoopGroup, logger: .init(label: "test")) == nil)
    }

    @Test func theOptionsReachTheClient() throws {
        let configuration = try HubConfiguration.load(
            arguments: ["--postgres-pool-size", "3"],
            environment: ["CHORUS_POSTGRES_URL": "postgres://chorus:pw@db:6543/hub?sslmode=require", "CHORUS_POSTGRES_CONNECT_TIMEOUT": "2s"]
        )
        let postgres = try #require(try ChorusServer.openPostgres(configuration, eventLoopGroup: .singletonMultiThreadedEventLoopGroup, logger: .init(label: "test")))
        #expect(postgres.configuration.redactedURL == "postgres://chorus@db:6543/hub?sslmode=require")
        #expect(postgres.configuration.poolSize == 3)
        #expect(postgres.configuration.connectTimeout == .seconds(2))
    }

    @Test(arguments: [
        (["--postgres-url", "postgres://u:pw@h/d?sslmode=never"], "--postgres-url: postgres_url has sslmode=never"),
        (["--postgres-pool-size", "0"], "--postgres-pool-size: '0' is not a whole number from 1 to 1000"),
        (["--postgres-connect-timeout", "0"], "--postgres-connect-timeout: postgres_connect_timeout must be longer than 0"),
    ])
    func badValuesAreRefusedAtLoad(arguments: [String], message: String) {
        #expect {
            try HubConfiguration.load(arguments: arguments, environment: [:])
        } throws: { error in
            "\(error)".hasPrefix(message) && !"\(error)".contains("pw")
        }
    }
}

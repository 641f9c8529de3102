import Testing

@testable import ChorusPostgres

/// `postgres_url` parsing: what it accepts, and clear refusals that never repeat the password.
@Suite struct PostgresConfigurationTests {
    @Test func aFullURLGivesEveryPart() throws {
        let configuration = try PostgresConfiguration(url: "postgres://chorus:s%40cret@db.example.com:6543/hub?sslmode=require")
        #expect(configuration.host == "db.example.com")
        #expect(configuration.port == 6543)
        #expect(configuration.username == "chorus")
        #expect(configuration.password == "s@cret")
        #expect(configuration.database == "hub")
        #expect(configuration.tls == .require)
        #expect(configuration.redactedURL == "postgres://chorus@db.example.com:6543/hub?sslmode=require")
    }

    @Test func defaultsFollowLibpq() throws {
        let configuration = try PostgresConfiguration(url: "postgresql://alice@localhost")
        #expect(configuration.port == 5432)
        #expect(configuration.password == nil)
        #expect(configuration.database == "alice")
        #expect(configuration.tls == .prefer)
        #expect(configuration.poolSize == 10)
    }

    @Test func anIPv6LiteralLosesItsBrackets() throws {
        let configuration = try PostgresConfiguration(url: "postgres://u@[::1]:5433/d?sslmode=disable")
        #expect(configuration.host == "::1")
        #expect(configuration.redactedURL == "postgres://u@[::1]:5433/d?sslmode=disable")
    }

    @Test(arguments: [
        ("mysql://u:pw@h/d", "scheme 'mysql'"),
        ("postgres://u:pw@/d", "no host"),
        ("postgres://:pw@h/d", "no user"),
        ("postgres://h/d", "no user"),
        ("postgres://u:pw@h/d/e", "one database name"),
        ("postgres://u:pw@h/d?sslmode=maybe", "sslmode=maybe"),
        ("postgres://u:pw@h/d?application_name=x", "'application_name'"),
        ("not a url at all", "not a URL"),
    ])
    func badURLsAreRefusedClearly(url: String, expected: String) {
        #expect {
            try PostgresConfiguration(url: url)
        } throws: { error in
            let message = "\(error)"
            return message.contains(expected) && !message.contains("pw") && message.hasPrefix("postgres_url")
        }
    }
}

import ChorusRedis
import Testing

@Suite struct RedisURLTests {
    @Test func hostPortAndDatabase() throws {
        let configuration = try RedisConfiguration(url: "redis://cache.internal:6380/3")
        #expect(configuration.address == .tcp(host: "cache.internal", port: 6380))
        #expect(configuration.database == 3 && configuration.tls == nil && configuration.password == nil)
    }

    @Test func defaults() throws {
        let configuration = try RedisConfiguration(url: "redis://localhost")
        #expect(configuration.address == .tcp(host: "localhost", port: 6379) && configuration.database == 0)
        #expect(try RedisConfiguration(url: "redis://localhost/").database == 0)
    }

    @Test func passwordAloneOrWithAUser() throws {
        let password = try RedisConfiguration(url: "redis://:s%40cret@[::1]:7000")
        #expect(password.username == nil && password.password == "s@cret")
        #expect(password.address == .tcp(host: "::1", port: 7000))
        let user = try RedisConfiguration(url: "redis://hub:p%3Aw@10.0.0.1/2")
        #expect(user.username == "hub" && user.password == "p:w" && user.database == 2)
    }

    @Test func tlsVerifiesAgainstSystemCAsUnlessTold() throws {
        #expect(try RedisConfiguration(url: "rediss://h").tls == RedisConfiguration.TLS())
        #expect(try RedisConfiguration(url: "rediss://h?ca=/etc/ca.pem").tls == RedisConfiguration.TLS(caFile: "/etc/ca.pem"))
        #expect(try RedisConfiguration(url: "rediss://h?insecure=true").tls?.verifiesCertificate == false)
    }

    @Test func unixSocket() throws {
        let configuration = try RedisConfiguration(url: "redis+unix://:pw@/run/redis.sock?db=4")
        #expect(configuration.address == .unixSocket(path: "/run/redis.sock"))
        #expect(configuration.password == "pw" && configuration.database == 4)
        #expect(try RedisConfiguration(url: "redis+unix:///tmp/r.sock").address == .unixSocket(path: "/tmp/r.sock"))
    }

    @Test(arguments: [
        ("localhost:6379", "not a URL"),
        ("http://localhost", "unsupported scheme 'http'"),
        ("redis://localhost:0", "the port '0'"),
        ("redis://localhost:70000", "the port '70000'"),
        ("redis://localhost:abc", "the port 'abc'"),
        ("redis://localhost/one", "the database 'one' is not a number"),
        ("redis://localhost/-1", "the database '-1'"),
        ("redis://:6379", "no host"),
        ("redis://user@localhost", "a user needs a password"),
        ("redis://:%zz@localhost", "two hex digits"),
        ("redis://localhost?insecure=true", "rediss:// only"),
        ("rediss://localhost?insecure=maybe", "true or false"),
        ("redis://localhost?timeout=1", "unknown URL parameter 'timeout'"),
        ("redis+unix://relative.sock", "absolute path"),
        ("redis://[::1", "closing ']'"),
    ])
    func badURLsSayWhatIsWrong(url: String, message: String) {
        #expect {
            try RedisConfiguration(url: url)
        } throws: { error in
            guard let error = error as? RedisError, error.code == .invalidURL else { return false }
            return error.message.contains(message)
        }
    }

    @Test func thePasswordIsNotInTheError() {
        #expect {
            try RedisConfiguration(url: "redis://:hunter2@localhost:99999")
        } throws: { !"\($0)".contains("hunter2") }
        #expect {
            try RedisConfiguration(url: "ftp://:hunter2@localhost")
        } throws: { !"\($0)".contains("hunter2") }
    }
}

import ChorusRedis
import Logging
import NIOCore
import ServiceLifecycle
import Testing

/// Runs `services` while `body` runs, then cancels them.
func withRunning<Result: Sendable>(_ services: [any Service], _ body: () async throws -> Result) async throws -> Result {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for service in services {
            group.addTask { try await service.run() }
        }
        let result = try await body()
        group.cancelAll()
        return result
    }
}

/// Waits (at most 20 s, then fails) until `states` says `connected`.
func waitUntil(_ states: AsyncStream<Bool>, is connected: Bool, _ what: String = "connection") async throws {
    try await withThrowingTaskGroup(of: Bool.self) { group in
        group.addTask {
            for await state in states where state == connected {
                return true
            }
            return false
        }
        group.addTask {
            try await Task.sleep(for: .seconds(20))
            return false
        }
        let reached = try await group.next() ?? false
        group.cancelAll()
        guard reached else {
            throw RedisError(.timeout, "the \(what) did not become \(connected ? "connected" : "disconnected") within 20 s")
        }
    }
}

/// A logger that prints warnings, so a failing test shows why it could not connect.
let testLogger: Logger = {
    var logger = Logger(label: "chorus.redis.test")
    logger.logLevel = .warning
    return logger
}()

/// A fast reconnect for tests that restart the server.
func testConfiguration(_ url: String) throws -> RedisConfiguration {
    var configuration = try RedisConfiguration(url: url)
    configuration.backoff = RedisBackoff(initial: .milliseconds(20), maximum: .milliseconds(200))
    return configuration
}

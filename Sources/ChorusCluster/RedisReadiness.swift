public import ChorusCore
public import ChorusRedis

/// `/ready`'s `redis` check: the command connection answers `PING`, and the broker's pub/sub
/// connection is up with every subscription made again (until then this node may miss
/// messages). Fails at once while either is reconnecting: the client does not queue.
public struct RedisReadiness: ReadinessCheck {
    private let client: RedisClient
    private let broker: RedisBroker?

    /// A check of `client` and, when given, `broker`'s subscription.
    public init(client: RedisClient, broker: RedisBroker? = nil) {
        self.client = client
        self.broker = broker
    }

    /// `redis`.
    public var name: String { "redis" }

    /// Returns when Redis answers and the subscription is up; throws saying which is not.
    public func checkReady() async throws {
        guard self.client.isConnected else { throw RedisUnavailable("Redis is unreachable; reconnecting") }
        do {
            _ = try await self.client.send(RESPCommand("PING", []))
        } catch {
            throw RedisUnavailable("Redis does not answer PING: \(error)")
        }
        if let broker = self.broker, !broker.isConnected {
            throw RedisUnavailable("the Redis subscription is down; resubscribing")
        }
    }
}

/// Why Redis is not ready, for an operator (no address credentials).
public struct RedisUnavailable: Error, CustomStringConvertible {
    /// What is wrong.
    public let description: String

    /// An error that says `description`.
    public init(_ description: String) {
        self.description = description
    }
}

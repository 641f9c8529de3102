public import Foundation
public import NIOCore

extension ChorusClient {
    /// How a ``ChorusClient`` connects, reconnects, queues and authenticates.
    public struct Configuration: Sendable {
        /// The client token (JWT), sent as `Authorization: Bearer` with each connection.
        public var token: String?
        /// Called for the first token when ``token`` is nil, and again when the hub says the token
        /// expired (`token_expired`).
        public var tokenProvider: (@Sendable () async throws -> String)?
        /// Reconnection delays.
        public var backoff = Backoff()
        /// How many reconnection attempts may fail in a row before the client gives up; nil: no limit.
        public var maxReconnectAttempts: Int?
        /// Time between `ping` frames while connected; nil turns the heartbeat off. A ping without
        /// a `pong` within `min(requestTimeout, heartbeatInterval)` counts the connection as dead.
        public var heartbeatInterval: Duration? = .seconds(25)
        /// How long a request (other than a publish) waits for its reply.
        public var requestTimeout: Duration = .seconds(10)
        /// How long opening a TCP connection may take.
        public var connectTimeout: Duration = .seconds(10)
        /// The most publishes held unacknowledged.
        public var queueLimit = 100
        /// What a full queue does with another publish.
        public var queuePolicy = OfflineQueue.OverflowPolicy.reject
        /// Where the queue is kept between runs of the application; nil: in memory only.
        public var queueFile: URL?
        /// The event loops for the connection; nil: SwiftNIO's shared singleton.
        public var eventLoopGroup: (any EventLoopGroup)?

        /// The defaults: no token, backoff 1 s doubling to 30 s without limit, a ping every 25 s,
        /// a queue of 100 in memory.
        public init() {}
    }
}

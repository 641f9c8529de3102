public import Logging
public import NIOCore
public import NIOPosix
public import ServiceLifecycle

/// A pipelined Redis connection, kept up by ``run()`` (a swift-service-lifecycle `Service`).
///
/// Commands may be sent from any thread or event loop, without a task per call: they are
/// written as they come and their replies matched in order. An error reply fails the
/// command's future with ``RedisError/Code/server`` (inside a batch it stays a
/// ``RESPValue/error(_:)`` value, so one failed command does not hide the others' replies).
///
/// While the connection is down (reconnecting with backoff) commands fail at once with
/// ``RedisError/Code/notConnected`` rather than wait: the hub's publish path must answer its
/// client now, and ``isConnected`` and ``connectionStates()`` say when Redis is back.
public final class RedisClient: Service, Sendable {
    /// The event loop the connection runs on; failed futures are made here.
    public let eventLoop: any EventLoop
    private let manager: RedisConnectionManager

    /// A client for `configuration`, on one event loop of `eventLoopGroup`; it connects once ``run()`` runs.
    public init(configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger = Logger(label: "chorus.redis")) {
        self.eventLoop = eventLoopGroup.next()
        self.manager = RedisConnectionManager(connector: RedisConnector(configuration: configuration, eventLoop: self.eventLoop), logger: logger)
    }

    /// Connects, reconnects after a loss, and on graceful shutdown lets the commands in flight
    /// finish before closing; returns once closed.
    public func run() async throws {
        await self.manager.run()
    }

    /// Whether a connection is up and takes commands.
    public var isConnected: Bool {
        self.manager.isConnected
    }

    /// The connection state now, then each change (true: connected).
    public func connectionStates() -> AsyncStream<Bool> {
        self.manager.states()
    }

    /// Calls `observer` with the connection state now, then on each change, on the thread
    /// that sees the change; returns a token for ``removeConnectionObserver(_:)``.
    public func addConnectionObserver(_ observer: @escaping @Sendable (Bool) -> Void) -> Int {
        self.manager.addObserver(observer)
    }

    /// Stops calling the observer `token` names.
    public func removeConnectionObserver(_ token: Int) {
        self.manager.removeObserver(token)
    }

    /// Sends `command`; its future completes on ``eventLoop`` with the reply.
    public func send(_ command: RESPCommand) -> EventLoopFuture<RESPValue> {
        switch self.manager.channel() {
        case .success(let channel): channel.send(command)
        case .failure(let error): self.eventLoop.makeFailedFuture(error)
        }
    }

    /// Sends `commands` with one flush; the future completes with their replies in order
    /// (error replies as ``RESPValue/error(_:)`` values), or fails if the connection does.
    public func send(_ commands: [RESPCommand]) -> EventLoopFuture<[RESPValue]> {
        switch self.manager.channel() {
        case .success(let channel):
            let promise = channel.eventLoop.makePromise(of: [RESPValue].self)
            channel.send(.batch(commands, promise))
            return promise.futureResult
        case .failure(let error):
            return self.eventLoop.makeFailedFuture(error)
        }
    }

    /// Sends `command` and waits for its reply.
    public func send(_ command: RESPCommand) async throws -> RESPValue {
        try await self.send(command).get()
    }

    /// Sends `commands` with one flush and waits for their replies.
    public func send(_ commands: [RESPCommand]) async throws -> [RESPValue] {
        try await self.send(commands).get()
    }

    /// Runs `script` by `EVALSHA`, and by `EVAL` with its source when the server does not
    /// have it cached (`NOSCRIPT`), which also caches it for the next call.
    public func evaluate(_ script: RedisScript, keys: [RESPArgument] = [], arguments: [RESPArgument] = []) -> EventLoopFuture<RESPValue> {
        self.send(script.command(bySource: false, keys: keys, arguments: arguments)).flatMapError { error in
            guard let error = error as? RedisError, error.isServerError("NOSCRIPT") else {
                return self.eventLoop.makeFailedFuture(error)
            }
            return self.send(script.command(bySource: true, keys: keys, arguments: arguments))
        }
    }

    /// Runs `script` (``evaluate(_:keys:arguments:)``) and waits for its reply.
    public func evaluate(_ script: RedisScript, keys: [RESPArgument] = [], arguments: [RESPArgument] = []) async throws -> RESPValue {
        try await self.evaluate(script, keys: keys, arguments: arguments).get()
    }
}

extension RedisClient {
    /// A client for `url` (``RedisConfiguration/init(url:)``).
    public convenience init(url: String, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger = Logger(label: "chorus.redis")) throws {
        self.init(configuration: try RedisConfiguration(url: url), eventLoopGroup: eventLoopGroup, logger: logger)
    }
}

import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Keeps one connection up for a ``RedisClient`` or ``RedisSubscriber``: connects, lets its
/// owner prepare the connection, reconnects with ``RedisBackoff`` when it drops, and tells
/// observers each time the connection comes up or goes down.
///
/// Graceful shutdown lets the commands in flight finish (a `PING` sent last is answered last),
/// then closes; task cancellation closes at once.
final class RedisConnectionManager: Sendable {
    private struct State {
        /// The connection once prepared; nil while (re)connecting.
        var channel: (any Channel)?
        var stopping = false
        /// Completed to cut a backoff short when stopping.
        var wake: EventLoopPromise<Void>?
        var observers: [Int: @Sendable (Bool) -> Void] = [:]
        var nextObserver = 0
    }

    /// Runs on each new connection before it counts as connected; `isFirst` is false for a
    /// reconnection. A thrown error drops the connection and backs off.
    typealias Prepare = @Sendable (_ channel: any Channel, _ isFirst: Bool) async throws -> Void

    let connector: RedisConnector
    private let logger: Logger
    private let pushes: RedisCommandHandler.PushRouter?
    private let messages: RedisSubscriber.MessageHandler?
    private let prepare: Prepare
    private let state = Mutex(State())

    init(
        connector: RedisConnector,
        logger: Logger,
        pushes: RedisCommandHandler.PushRouter? = nil,
        messages: RedisSubscriber.MessageHandler? = nil,
        prepare: @escaping Prepare = { _, _ in }
    ) {
        self.connector = connector
        self.logger = logger
        self.pushes = pushes
        self.messages = messages
        self.prepare = prepare
    }

    /// The connection, or the error a command sent now fails with.
    func channel() -> Result<any Channel, RedisError> {
        self.state.withLock { state in
            if state.stopping {
                return .failure(RedisError(.shuttingDown, "the Redis client is shutting down"))
            }
            guard let channel = state.channel else {
                return .failure(RedisError(.notConnected, "not connected to Redis (reconnecting)"))
            }
            return .success(channel)
        }
    }

    var isConnected: Bool {
        self.state.withLock { $0.channel != nil && !$0.stopping }
    }

    /// Calls `observer` with the current state now, then with each change, until the returned
    /// token is passed to ``removeObserver(_:)``.
    func addObserver(_ observer: @escaping @Sendable (Bool) -> Void) -> Int {
        let (token, connected) = self.state.withLock { state in
            state.nextObserver += 1
            state.observers[state.nextObserver] = observer
            return (state.nextObserver, state.channel != nil && !state.stopping)
        }
        observer(connected)
        return token
    }

    func removeObserver(_ token: Int) {
        _ = self.state.withLock { $0.observers.removeValue(forKey: token) }
    }

    /// The state now, then each change, until the stream's consumer goes away.
    func states() -> AsyncStream<Bool> {
        AsyncStream { continuation in
            let token = self.addObserver { continuation.yield($0) }
            continuation.onTermination = { _ in self.removeObserver(token) }
        }
    }

    /// Connects and reconnects until graceful shutdown or cancellation.
    func run() async {
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await self.connectionLoop()
            } onGracefulShutdown: {
                self.stop(drain: true)
            }
        } onCancel: {
            self.stop(drain: false)
        }
    }

    private func connectionLoop() async {
        var attempt = 0
        var isFirst = true
        while !self.state.withLock({ $0.stopping }) {
            do {
                let channel = try await self.connector.connect(pushes: self.pushes, messages: self.messages)
                do {
                    try await self.prepare(channel, isFirst)
                } catch {
                    try? await channel.close()
                    throw error
                }
                isFirst = false
                attempt = 0
                guard self.attach(channel) else {
                    try? await channel.close()
                    break
                }
                self.logger.info("connected to Redis", metadata: ["redis.address": "\(self.connector.configuration.address)"])
                try? await channel.closeFuture.get()
                if self.detach() {
                    break
                }
                self.logger.warning("lost the Redis connection; reconnecting")
            } catch {
                self.logger.warning("cannot connect to Redis: \(error)", metadata: ["redis.attempt": "\(attempt + 1)"])
            }
            let delay = self.connector.configuration.backoff.delay(attempt: attempt, random: .random(in: 0..<1))
            attempt += 1
            guard await self.sleep(delay) else { break }
        }
    }

    /// Makes `channel` the connection unless stopping; notifies observers.
    private func attach(_ channel: any Channel) -> Bool {
        let observers: [@Sendable (Bool) -> Void]? = self.state.withLock { state in
            guard !state.stopping else { return nil }
            state.channel = channel
            return Array(state.observers.values)
        }
        guard let observers else { return false }
        for observer in observers { observer(true) }
        return true
    }

    /// Forgets the closed connection, notifies observers; true when stopping.
    private func detach() -> Bool {
        let (observers, stopping) = self.state.withLock { state in
            state.channel = nil
            // Stopping told them already.
            return (state.stopping ? [] : Array(state.observers.values), state.stopping)
        }
        for observer in observers { observer(false) }
        return stopping
    }

    /// Waits `delay`; false when stopping (at once, if stop comes while waiting).
    private func sleep(_ delay: TimeAmount) async -> Bool {
        let eventLoop = self.connector.eventLoop
        let wake = eventLoop.makePromise(of: Void.self)
        guard self.state.withLock({ state in
            state.wake = state.stopping ? nil : wake
            return !state.stopping
        }) else {
            wake.succeed()
            return false
        }
        let timer = eventLoop.scheduleTask(in: delay) { wake.succeed() }
        try? await wake.futureResult.get()
        timer.cancel()
        return !self.state.withLock { state in
            state.wake = nil
            return state.stopping
        }
    }

    /// Refuses new commands; closes the connection after the ones in flight (`drain`) or now.
    private func stop(drain: Bool) {
        let (channel, wake, observers) = self.state.withLock { state in
            let wasConnected = state.channel != nil && !state.stopping
            state.stopping = true
            return (state.channel, state.wake, wasConnected ? Array(state.observers.values) : [])
        }
        wake?.succeed()
        for observer in observers { observer(false) }
        guard let channel else { return }
        if drain {
            channel.send(RESPCommand("PING")).whenComplete { _ in channel.close(promise: nil) }
        } else {
            channel.close(promise: nil)
        }
    }
}

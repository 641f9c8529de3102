public import Logging
public import NIOCore
import PostgresNIO
public import ServiceLifecycle

/// Hears every node's committed sync changes: one connection of its own (LISTEN needs a
/// session, not a pooled connection) listening on ``PostgresSyncStore/channel``.
///
/// PostgreSQL delivers a notification only once its transaction commits, in commit order,
/// which for one collection is version order. A lost connection loses what was announced
/// meanwhile: the listener reconnects with backoff and calls `listening` each time it listens
/// again, so its owner reads what it missed from the store.
public final class PostgresSyncListener: Service, CustomStringConvertible {
    private let configuration: PostgresConfiguration
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let listening: @Sendable () -> Void
    private let received: @Sendable (SyncNotice) -> Void

    /// A listener on the database `configuration` names; nothing connects before ``run()``.
    /// - Parameters:
    ///   - listening: called each time it (re)starts listening; notices from then on reach `received`.
    ///   - received: every notice, in commit order.
    public init(
        configuration: PostgresConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger,
        listening: @escaping @Sendable () -> Void, received: @escaping @Sendable (SyncNotice) -> Void
    ) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.listening = listening
        self.received = received
    }

    /// Its name in a `ServiceGroup`'s log (the URL holds a password).
    public var description: String { "PostgresSyncListener" }

    /// Listens until graceful shutdown, reconnecting after each failure (0.1 s doubling to 5 s).
    public func run() async throws {
        var delay = Duration.milliseconds(100)
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown {
                    let connection = try await PostgresConnection.connect(
                        on: self.eventLoopGroup.next(), configuration: try self.configuration.connectionConfiguration(), id: 0, logger: self.logger)
                    do {
                        try await connection.listen(on: PostgresSyncStore.channel) { notifications in
                            self.listening()
                            for try await notification in notifications {
                                if let notice = SyncNotice(payload: notification.payload) { self.received(notice) }
                            }
                        }
                    } catch {
                        try? await connection.close()
                        throw error
                    }
                    try? await connection.close()
                }
                delay = .milliseconds(100)
            } catch {
                guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return }
                let reason = PostgresUnavailable(describing: error, server: self.configuration.redactedURL)
                self.logger.warning("sync changes from other nodes are not heard; listening again", metadata: ["error": "\(reason.message)"])
            }
            guard !Task.isShuttingDownGracefully else { return }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }
}

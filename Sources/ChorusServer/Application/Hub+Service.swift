import ChorusCore
import Logging
import NIOCore
import ServiceLifecycle

/// The hub's own work runs while the hub runs as a `Service`: each event loop's sweep
/// (heartbeats, idle timeouts, SSE keep-alives) and history's trimming.
///
/// In a `ServiceGroup`, place the hub before whatever accepts connections for it: a group
/// shuts its services down in reverse order, so the listener stops accepting and tells every
/// client `disconnect` + 1001 first, and the hub stops (and flushes history) only after.
/// ``ChorusServer`` runs `[hub, listener]` itself; an application serving Chorus from its own
/// Hummingbird `Application` runs `[hub, application]`.
extension Hub: Service {
    /// Starts the hub's work, waits for graceful shutdown (or cancellation), then waits at most
    /// `shutdown_timeout` for connections still finishing their close handshake and stops.
    public func run() async throws {
        self.startWork()
        try? await gracefulShutdown()
        await self.waitForConnectionsToClose()
        await self.stopWork()
    }

    /// Every piece of background work the hub owns is started here and stopped in
    /// `stopWork()`, history's included (its store is not a service of its own yet).
    private func startWork() {
        let sweepInterval = Self.sweepInterval(self.configuration)
        for shard in self.shards { shard.startSweeping(every: sweepInterval) }
        let ttls = self.configuration.namespaces.compactMapValues { $0.keepsHistory ? $0.historyTTL : nil }
        self.history?.startTrimming(ttls: ttls, on: self.shards[0].eventLoop)
    }

    private func stopWork() async {
        for shard in self.shards { await shard.stopSweeping() }
        await self.close()
        // Now, not when the store's last reference goes: that may be a task's, released after
        // the process has ended.
        do {
            try self.history?.store.close()
        } catch {
            self.logger.warning("closing the history store failed", metadata: ["error": "\(error)"])
        }
    }

    /// WebSocket and SSE clients may still be finishing their close handshake (each at most a
    /// couple of seconds) when the listener has stopped; cancellation ends the wait early.
    private func waitForConnectionsToClose() async {
        let deadline = ContinuousClock.now + self.configuration.shutdownTimeout
        while self.metrics.connectionCount > 0, ContinuousClock.now < deadline {
            do {
                try await Task.sleep(for: .milliseconds(20))
            } catch {
                return
            }
        }
    }

    /// Often enough to honour the shortest of the heartbeat settings, at most once a second.
    static func sweepInterval(_ configuration: HubConfiguration) -> TimeAmount {
        let shortest = min(configuration.pingInterval, configuration.idleTimeout, configuration.sseKeepAliveInterval)
        let milliseconds = max(50, min(1000, shortest.components.seconds * 1000 / 2 + shortest.components.attoseconds / 2_000_000_000_000_000))
        return .milliseconds(milliseconds)
    }
}

/// A `ServiceGroup` logs its services by description (at debug level): a name, never the
/// configuration, which holds the keys.
extension Hub: CustomStringConvertible {
    public var description: String { "Hub" }
}

import ChorusCore
import Logging
import NIOCore
public import ServiceLifecycle

/// The hub's own work runs while the hub runs as a `Service`: each event loop's sweep
/// (heartbeats, idle timeouts, SSE keep-alives).
///
/// In a `ServiceGroup`, place the hub after its history store and before whatever accepts
/// connections for it: a group shuts its services down in reverse order, so the listener stops
/// accepting and tells every client `disconnect` + 1001 first, then the hub waits for them,
/// and the store commits what it accepted last. ``ChorusServer`` runs `[store, hub, listener]`
/// itself; an application serving Chorus from its own Hummingbird `Application` runs
/// `[store, hub, application]`.
extension Hub: Service {
    /// Starts the hub's work, waits for graceful shutdown (or cancellation), then waits at most
    /// `shutdown_timeout` for connections still finishing their close handshake and stops.
    public func run() async throws {
        self.startWork()
        let watching = self.transforms.map { transforms in Task { await transforms.watch(every: .seconds(1)) } }
        try? await gracefulShutdown()
        watching?.cancel()
        await self.waitForConnectionsToClose()
        await self.stopWork()
    }

    /// Every piece of background work the hub owns is started here and stopped in
    /// `stopWork()`; the history store runs (and trims) as a service of its own.
    private func startWork() {
        let sweepInterval = Self.sweepInterval(self.configuration)
        for shard in self.shards { shard.startSweeping(every: sweepInterval) }
    }

    private func stopWork() async {
        for shard in self.shards { await shard.stopSweeping() }
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

    /// Returns once every publish acknowledged so far is queued for delivery on the loops.
    /// An embedded store acknowledges a group commit just before it hands the commit to the
    /// broker (so a publisher usually has its ack before its own message); a shutdown must not
    /// slip between the two. A cluster's broker delivers through Redis: its subscribers recover
    /// what a shutdown overtakes.
    func queueAcknowledgedDeliveries() async {
        await (self.history as? GroupCommitStore)?.waitUntilIdle()
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
    /// Its name, never its configuration (which holds the keys).
    public var description: String { "Hub" }
}

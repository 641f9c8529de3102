import Logging
import ServiceLifecycle
import UnixSignals

/// Runs every reload the hub has (the TLS certificate today) on each `SIGHUP`, until the
/// group's graceful shutdown. One handler for all: a second one for the same signal would take
/// signals from the first.
struct HangupReload: Service {
    let reloads: [@Sendable () -> Void]

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            for reload in self.reloads { reload() }
        }
    }
}

/// Its name, for the group's log.
extension HangupReload: CustomStringConvertible {
    var description: String { "HangupReload" }
}

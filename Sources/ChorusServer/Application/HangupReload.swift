import Logging
import ServiceLifecycle
import UnixSignals

/// Runs the listener's reloads (the TLS certificate) on each `SIGHUP`, until the group's
/// graceful shutdown. The WebAssembly modules of namespaces and consumers watch `SIGHUP`
/// themselves (`TransformWatch`): each `UnixSignalsSequence` trapping a signal gets every
/// delivery of it (a dispatch source each), so all of them reload (`test_tls.py`,
/// `test_event_transforms.py`).
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

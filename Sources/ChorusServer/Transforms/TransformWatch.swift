import ChorusWasm
import Logging
import UnixSignals

/// How the hub keeps transform modules current, for namespaces and event consumers alike:
/// a poll of the files' stamps, and every module on `SIGHUP`.
enum TransformWatch {
    /// Calls `reload(false)` every `interval` and `reload(true)` on each SIGHUP, until cancelled.
    static func run(every interval: Duration, reload: @escaping @Sendable (_ force: Bool) -> Void) async {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in hangups { reload(true) }
            }
            group.addTask {
                while (try? await Task.sleep(for: interval)) != nil { reload(false) }
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// Reloads `transform` when its file changed (always, with `force`), logs what happened with
    /// `metadata` (the namespace or consumer), and returns the `result` label to count:
    /// `reloaded` or `failed`; nil when nothing changed.
    static func reload(_ transform: LoadedTransform, force: Bool, logger: Logger, metadata: Logger.Metadata) -> String? {
        switch transform.reloadFile(force: force) {
        case .unchanged:
            return nil
        case .reloaded:
            logger.info("transform reloaded", metadata: metadata.merging(["path": "\(transform.path ?? "")"]) { $1 })
            return "reloaded"
        case .failed(let error):
            logger.error("transform reload failed; the previous module keeps running", metadata: metadata.merging(["error": "\(error.message)"]) { $1 })
            return "failed"
        }
    }
}

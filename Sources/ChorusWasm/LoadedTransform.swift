import Foundation
import Synchronization

/// A namespace's transform: one ``TransformSlot`` per event loop, and one more shared by callers
/// on no event loop of the hub (an application's own tasks), all reloaded together.
public final class LoadedTransform: Sendable {
    /// Where the module is read from on reload (nil: given as text or bytes, never reloaded).
    public let path: String?
    private let slots: [TransformSlot]
    /// The file's modification time and size when it was last loaded (or tried).
    private let loadedStamp: Mutex<FileStamp?>

    /// - Parameter loops: how many event loops call it; each gets its own instance.
    public init(module: TransformModule, path: String?, loops: Int) {
        self.path = path
        self.slots = (0...loops).map { _ in TransformSlot(module: module) }
        self.loadedStamp = Mutex(path.flatMap(FileStamp.init(path:)))
    }

    /// Reads the file again when it changed since the last load (or always, with `force`, as
    /// SIGHUP asks) and installs it; a module that fails to load leaves the current one running.
    public func reloadFile(force: Bool = false) -> ReloadResult {
        guard let path = self.path else { return .unchanged }
        let stamp = FileStamp(path: path)
        guard force || stamp != self.loadedStamp.withLock({ $0 }) else { return .unchanged }
        // Remembered even when the load fails: a broken file is reported once, not every poll.
        self.loadedStamp.withLock { $0 = stamp }
        do throws(TransformLoadError) {
            let module = try TransformModule(contentsOfFile: path, limits: self.module.limits)
            try self.reload(module)
            return .reloaded
        } catch {
            return .failed(error)
        }
    }

    /// What ``reloadFile(force:)`` did.
    public enum ReloadResult: Sendable, Equatable {
        /// The file did not change: nothing was read.
        case unchanged
        /// The new module runs from the next message on.
        case reloaded
        /// The file could not be loaded; the previous module keeps running.
        case failed(TransformLoadError)
    }

    /// The slot of event loop `index`, or the shared one for callers on none (`index` nil).
    public func slot(_ index: Int?) -> TransformSlot {
        self.slots[index ?? self.slots.count - 1]
    }

    /// Runs the transform on one message: on event loop `loop`'s own slot, or, for a caller on
    /// no event loop of the hub (an HTTP handler's task), on the first free slot, the shared one
    /// first, waiting for the shared one only when every slot is busy.
    public func run(onLoop loop: Int?, topic: String, event: String, data: UnsafeRawBufferPointer) -> Result<TransformOutcome, TransformFailure> {
        if let loop { return self.slots[loop].run(topic: topic, event: event, data: data) }
        for slot in self.slots.reversed() {
            if let result = slot.runIfFree(topic: topic, event: event, data: data) { return result }
        }
        return self.slot(nil).run(topic: topic, event: event, data: data)
    }

    /// The module every slot runs now.
    public var module: TransformModule { self.slots[0].module }

    /// Installs `module` in every slot, each with an instance made here, before any swap: a
    /// module that cannot be instantiated changes nothing.
    public func reload(_ module: TransformModule) throws(TransformLoadError) {
        var instances: [TransformInstance] = []
        for _ in self.slots { instances.append(try module.instantiate()) }
        for slot in self.slots {
            slot.install(module, instance: instances.removeLast())
        }
    }
}

/// What tells a changed file from an unchanged one without reading it.
struct FileStamp: Equatable, Sendable {
    var modified: Date
    var size: Int

    init?(path: String) {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let modified = attributes[.modificationDate] as? Date,
            let size = (attributes[.size] as? NSNumber)?.intValue ?? attributes[.size] as? Int
        else { return nil }
        self.modified = modified
        self.size = size
    }
}

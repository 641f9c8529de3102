import Synchronization

/// The instance one event loop uses, and the module it comes from. A call holds the slot for its
/// whole run, and a reload swaps module and instance together under the same lock, so every
/// message is transformed by exactly one version of the module.
///
/// `@unchecked Sendable`: WasmKit's stores are not `Sendable`; `state` is only touched under `lock`.
public final class TransformSlot: @unchecked Sendable {
    private let lock = Mutex(())
    private var state: State

    private final class State {
        var module: TransformModule
        /// Nil until first use, and again after a failed call (its memory and globals may be
        /// half-written): the next call starts from a fresh instance.
        var instance: TransformInstance?

        init(module: TransformModule, instance: TransformInstance?) {
            self.module = module
            self.instance = instance
        }
    }

    /// A slot that instantiates `module` on its first call.
    public init(module: TransformModule) {
        self.state = State(module: module, instance: nil)
    }

    /// Runs the current version on one message.
    public func run(topic: String, event: String, data: UnsafeRawBufferPointer) -> Result<TransformOutcome, TransformFailure> {
        self.lock.withLock { _ in self.runLocked(topic: topic, event: event, data: data) }
    }

    /// ``run(topic:event:data:)`` when no other call holds the slot; nil when one does.
    public func runIfFree(topic: String, event: String, data: UnsafeRawBufferPointer) -> Result<TransformOutcome, TransformFailure>? {
        self.lock.withLockIfAvailable { _ in self.runLocked(topic: topic, event: event, data: data) }
    }

    /// The call itself; the caller holds `lock`.
    private func runLocked(topic: String, event: String, data: UnsafeRawBufferPointer) -> Result<TransformOutcome, TransformFailure> {
        let state = self.state
        do throws(TransformFailure) {
            let instance: TransformInstance
            if let current = state.instance {
                instance = current
            } else {
                do throws(TransformLoadError) {
                    instance = try state.module.instantiate()
                } catch {
                    throw TransformFailure(.trap, "cannot instantiate: \(error.message)")
                }
                state.instance = instance
            }
            do throws(TransformFailure) {
                return .success(try instance.run(topic: topic, event: event, data: data))
            } catch {
                state.instance = nil
                throw error
            }
        } catch {
            return .failure(error)
        }
    }

    /// Puts `module` in place, with an instance made from it beforehand (off the event loop):
    /// the next call runs the new version.
    public func install(_ module: TransformModule, instance: TransformInstance) {
        let fresh = State(module: module, instance: instance)
        self.lock.withLock { _ in self.state = fresh }
    }

    /// The module this slot runs now.
    public var module: TransformModule {
        self.lock.withLock { _ in self.state.module }
    }
}

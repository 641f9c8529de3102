import Synchronization

/// The in-process handlers an embedding app registered (``EventBus/register(handler:named:)``),
/// by name; read by each attempt, so a handler registered after start is used from then on.
public final class EventHandlers: Sendable {
    private let handlers = Mutex<[String: EventHandler]>([:])

    subscript(name: String) -> EventHandler? {
        self.handlers.withLock { $0[name] }
    }

    func register(_ handler: @escaping EventHandler, named name: String) {
        self.handlers.withLock { $0[name] = handler }
    }
}

import Synchronization

/// The hub's reference to the event bus, set once ``ChorusServer`` made the bus (it is made
/// after the hub, whose topics its bridges publish to); nil for a hub without one.
final class EventBusSlot: Sendable {
    private let bus = Mutex<EventBus?>(nil)

    /// The bus, when there is one.
    var value: EventBus? { self.bus.withLock { $0 } }

    func set(_ bus: EventBus?) {
        self.bus.withLock { $0 = bus }
    }
}

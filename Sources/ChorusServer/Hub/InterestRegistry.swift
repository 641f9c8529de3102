import ChorusCore
import NIOCore
import Synchronization

/// This node's interests over all its event loops, and the broker's subscriptions that follow
/// them: each loop reports when an interest starts or ends on it, and the broker hears of an
/// interest when the first loop holds it and when the last one lets it go, in that order.
///
/// A history subscribe reads its position only once ``ready(_:on:)`` completes: a message
/// published before the broker brings this node the interest's messages is then below the
/// floor (replayed), and every later one arrives live.
final class InterestRegistry: Sendable {
    private struct State {
        var loops = InterestCounter<BrokerInterest>()
        /// Interests whose broker subscription is not confirmed yet.
        var pending: [BrokerInterest: EventLoopFuture<Void>] = [:]
        var broker: (any Broker)?
    }

    private let state = Mutex(State())

    /// The broker to tell; set once, by the hub, before any connection.
    func attach(_ broker: any Broker) {
        self.state.withLock { $0.broker = broker }
    }

    /// The first holder of `interest` on a loop: the broker subscribes if no loop held it.
    func started(_ interest: BrokerInterest, on loop: any EventLoop) {
        // Under the lock, so the broker sees each interest's starts and ends in order.
        let subscribed: EventLoopFuture<Void>? = self.state.withLock { state in
            guard state.loops.retain(interest), let broker = state.broker else { return nil }
            let subscribed = broker.subscribe(to: interest, on: loop)
            state.pending[interest] = subscribed
            return subscribed
        }
        subscribed?.whenComplete { _ in
            self.state.withLock { state in
                if state.pending[interest] === subscribed { state.pending[interest] = nil }
            }
        }
    }

    /// The last holder of `interest` on a loop is gone: the broker unsubscribes if no loop holds it.
    func ended(_ interest: BrokerInterest) {
        self.state.withLock { state in
            guard state.loops.release(interest) else { return }
            state.pending[interest] = nil
            state.broker?.unsubscribe(from: interest)
        }
    }

    /// Completes on `loop` once the broker brings this node `interest`'s messages: at once when
    /// it does already (always, for a broker of one process).
    func ready(_ interest: BrokerInterest, on loop: any EventLoop) -> EventLoopFuture<Void> {
        guard let pending = self.state.withLock({ $0.pending[interest] }) else { return loop.makeSucceededVoidFuture() }
        return pending.hop(to: loop)
    }
}

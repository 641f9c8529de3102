public import ChorusCore
import Synchronization

/// A ``Broker`` that records what it is given (each call: one message or one batch), in order,
/// and passes it on to the broker it wraps, if any.
public final class RecordingBroker: Broker {
    private struct State {
        var calls: [[BrokerMessage]] = []
        var waiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state = Mutex(State())
    private let next: (any Broker)?
    /// Called with each call's messages as it is recorded (on the caller's thread).
    private let observe: @Sendable ([BrokerMessage]) -> Void

    public init(passingTo next: (any Broker)? = nil, observe: @escaping @Sendable ([BrokerMessage]) -> Void = { _ in }) {
        self.next = next
        self.observe = observe
    }

    /// Every call so far: a single publish is a call of one message.
    public var calls: [[BrokerMessage]] {
        self.state.withLock { $0.calls }
    }

    public func publish(_ message: BrokerMessage) {
        self.record([message])
        self.next?.publish(message)
    }

    public func publish(contentsOf messages: [BrokerMessage]) {
        self.record(messages)
        self.next?.publish(contentsOf: messages)
    }

    /// Returns once `count` messages in all were published.
    public func waitForMessages(_ count: Int) async {
        await withCheckedContinuation { continuation in
            let done = self.state.withLock { state in
                guard state.calls.joined().count < count else { return true }
                state.waiters.append((count, continuation))
                return false
            }
            if done { continuation.resume() }
        }
    }

    private func record(_ messages: [BrokerMessage]) {
        self.observe(messages)
        let ready = self.state.withLock { state in
            state.calls.append(messages)
            let total = state.calls.joined().count
            let ready = state.waiters.filter { $0.count <= total }.map(\.continuation)
            state.waiters.removeAll { $0.count <= total }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }
}

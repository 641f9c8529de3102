public import NIOCore

/// Carries messages the hub accepted (and, on a topic that keeps history, that the store
/// committed) to their subscribers: this process's through its ``BrokerDelivery``, other
/// nodes' when the broker spans several (a cluster broker).
///
/// Every publish path goes through it: WebSocket and SSE clients, the HTTP API, `Hub.publish`,
/// user sends and custom frame handlers. A broker keeps each caller's order, and hands a batch
/// on as one batch, so a group commit still reaches each event loop in one hop.
///
/// A broker that spans nodes brings a node only what its clients need: the hub calls
/// ``subscribe(to:on:)`` when a ``BrokerInterest`` starts on this node and
/// ``unsubscribe(from:)`` when it ends, in that order for each interest.
public protocol Broker: Sendable {
    /// Publishes one message.
    func publish(_ message: BrokerMessage)
    /// Publishes a group commit's messages, in commit order.
    func publish(contentsOf messages: [BrokerMessage])
    /// This node now needs `interest`'s messages; the future (on `loop`) completes once they
    /// arrive, so that a position read after it misses nothing published later.
    func subscribe(to interest: BrokerInterest, on loop: any EventLoop) -> EventLoopFuture<Void>
    /// This node no longer needs `interest`'s messages.
    func unsubscribe(from interest: BrokerInterest)
    /// Whether a publish can go out now: false while a cluster's broker has lost its server,
    /// so that publishers are told instead of having their messages dropped.
    var isAvailable: Bool { get }
}

extension Broker {
    /// A broker of one process delivers everything here: nothing to subscribe to.
    public func subscribe(to interest: BrokerInterest, on loop: any EventLoop) -> EventLoopFuture<Void> {
        loop.makeSucceededVoidFuture()
    }

    /// A broker of one process delivers everything here: nothing to unsubscribe from.
    public func unsubscribe(from interest: BrokerInterest) {}

    /// A broker of one process is always available.
    public var isAvailable: Bool { true }
}

/// This process's subscribers, as a broker reaches them: the hub encodes each message once and
/// hands it to every event loop.
public protocol BrokerDelivery: Sendable {
    /// Delivers one message (encoded on the calling thread).
    func deliver(_ message: BrokerMessage)
    /// Delivers a batch in order (encoded on one event loop, then one hop per loop).
    func deliver(contentsOf messages: [BrokerMessage])
}

/// The broker of a single process: messages go straight to this process's subscribers, at no
/// cost beyond a direct call, and interest changes cost nothing. The hub's default.
public struct MemoryBroker: Broker {
    private let local: any BrokerDelivery

    /// A broker that hands every message straight to `local`, this process's subscribers.
    public init(local: any BrokerDelivery) {
        self.local = local
    }

    /// Delivers `message` to this process's subscribers, on the caller's thread.
    public func publish(_ message: BrokerMessage) {
        self.local.deliver(message)
    }

    /// Delivers `messages` in order, as one batch (one hop per event loop).
    public func publish(contentsOf messages: [BrokerMessage]) {
        self.local.deliver(contentsOf: messages)
    }
}

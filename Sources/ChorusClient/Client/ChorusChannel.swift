public import ChorusCore

/// A topic or pattern on a ``ChorusClient``'s connection. Get one with ``ChorusClient/channel(_:)``.
public struct ChorusChannel: Sendable {
    /// The client it belongs to.
    public let client: ChorusClient
    /// The topic or pattern.
    public let name: String

    /// Subscribes (now, or once connected) and returns the messages; the subscription is
    /// restored after every reconnection, recovering what was missed with `since`. Several
    /// subscribers of one channel each get every message. Throws the hub's refusal.
    public func subscribe(since: RecoveryPosition? = nil) async throws -> ChorusSubscription {
        try await self.client.subscribe(self.name, since: since)
    }

    /// Ends the subscription: every subscriber's sequence finishes.
    public func unsubscribe() async {
        await self.client.unsubscribe(self.name)
    }

    /// Publishes `data` to this channel's topic; see ``ChorusClient/publish(topic:event:data:idempotencyKey:)``.
    @discardableResult
    public func publish(event: String = "message", data: some Encodable & Sendable, idempotencyKey: String? = nil) async throws -> PublishAck {
        try await self.client.publish(topic: self.name, event: event, data: data, idempotencyKey: idempotencyKey)
    }
}

/// The messages of one subscription, in the order the hub sent them, each once.
public struct ChorusSubscription: AsyncSequence, Sendable {
    /// Each element is a message.
    public typealias Element = ChorusMessage
    /// The topic or pattern subscribed to.
    public let topic: String
    let stream: AsyncStream<ChorusMessage>

    /// Iterates the messages.
    public func makeAsyncIterator() -> AsyncStream<ChorusMessage>.Iterator {
        self.stream.makeAsyncIterator()
    }

    /// The messages' `data` decoded as `type`; a message that does not decode ends the
    /// sequence with the decoding error.
    public func decoded<Value: Decodable & Sendable>(as type: Value.Type) -> AsyncThrowingMapSequence<AsyncStream<ChorusMessage>, Value> {
        self.stream.map { try $0.decode(type) }
    }
}

extension ChorusChannel {
    /// Whether the hub confirmed the subscription on the current connection: false while
    /// offline and until a resubscription after a reconnection is answered.
    public var isSubscribed: Bool {
        get async { await self.client.isSubscribed(self.name) }
    }
}

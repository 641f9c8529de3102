public import ChorusCore

/// Where a consumer's deliveries go: one attempt to deliver one event
/// (a webhook, a bridge to hub topics, an in-process handler).
public protocol EventTarget: Sendable {
    /// Attempt number `attempt` (1 for the first) to deliver `event` to `consumer`. Never throws:
    /// a failure is an outcome the retry policy judges.
    func deliver(_ event: LoggedEvent, consumer: String, attempt: Int) async -> EventDeliveryResult
}

/// How one attempt ended, for the retry policy and the attempt's durable record.
public struct EventDeliveryResult: Sendable {
    /// What the retry policy decides from.
    public var outcome: DeliveryOutcome
    /// The HTTP status a webhook answered, if it answered.
    public var statusCode: Int?
    /// What went wrong (recorded with the attempt); nil on success.
    public var error: String?
    /// The consumer's transform dropped the event: acknowledged without reaching the target
    /// (counted `filtered`, not `delivered`).
    public var filtered: Bool

    /// A result.
    public init(outcome: DeliveryOutcome, statusCode: Int? = nil, error: String? = nil, filtered: Bool = false) {
        self.outcome = outcome
        self.statusCode = statusCode
        self.error = error
        self.filtered = filtered
    }

    /// The attempt succeeded.
    public static let succeeded = EventDeliveryResult(outcome: .succeeded)
}

/// An in-process consumer's code, registered by an embedding app with
/// `EventBus.register(handler:named:)`: return normally to acknowledge, throw to have the event
/// retried, throw ``EventRejected`` to dead-letter it at once.
public typealias EventHandler = @Sendable (LoggedEvent) async throws -> Void

/// Thrown by an ``EventHandler`` that knows retrying cannot help: the event is dead-lettered now.
public struct EventRejected: Error, Sendable {
    /// Why, recorded with the attempt.
    public var reason: String
    /// A rejection saying `reason`.
    public init(_ reason: String) { self.reason = reason }
}

/// The target of a `{"handler": "name"}` consumer: runs the handler registered under its name.
struct HandlerTarget: EventTarget {
    let name: String
    let handlers: EventHandlers

    func deliver(_ event: LoggedEvent, consumer: String, attempt: Int) async -> EventDeliveryResult {
        guard let handler = self.handlers[self.name] else {
            return EventDeliveryResult(outcome: .failed(), error: "no handler is registered under the name '\(self.name)'")
        }
        do {
            try await handler(event)
            return .succeeded
        } catch let rejection as EventRejected {
            return EventDeliveryResult(outcome: .rejected, error: rejection.reason)
        } catch {
            return EventDeliveryResult(outcome: .failed(), error: String(describing: error))
        }
    }
}

/// The target of a `{"bridge": {"topics": […]}}` consumer: publishes the event's envelope to
/// each topic its templates name, through the hub's publish path (so history topics store it
/// before the attempt counts as delivered).
struct BridgeTarget: EventTarget {
    let templates: [BridgeTemplate]
    let hub: Hub

    func deliver(_ event: LoggedEvent, consumer: String, attempt: Int) async -> EventDeliveryResult {
        let topics = self.templates.compactMap { $0.topic(for: event.event) }
        guard !topics.isEmpty else {
            // The event's data lacks what the templates name: retrying cannot fill it in.
            return EventDeliveryResult(outcome: .rejected, error: "no bridge topic could be made from the event")
        }
        let envelope = EventEnvelope.json(of: event)
        for topic in Set(topics) {
            do {
                _ = try await self.hub.publishAndWait(topic: topic, event: event.event.type, data: envelope)
            } catch {
                return EventDeliveryResult(outcome: .failed(), error: "publishing to '\(topic.name)': \(error.message)")
            }
        }
        return .succeeded
    }
}

/// A webhook consumer's target when the hub has no webhook client (an embedding that passed
/// none, or after the client closed at shutdown): every attempt fails (and is retried), saying so.
struct MissingWebhookClient: EventTarget {
    func deliver(_ event: LoggedEvent, consumer: String, attempt: Int) async -> EventDeliveryResult {
        EventDeliveryResult(outcome: .failed(), error: "this hub has no webhook client")
    }
}

extension EventBus {
    /// The targets of a hub's consumers: bridges publish through `hub`, handlers run what the
    /// app registered, webhooks go through `webhook` (the hub's webhook client).
    public static func targets(
        hub: Hub, webhook: (@Sendable (EventConsumer) -> any EventTarget)?
    ) -> @Sendable (EventConsumer, EventHandlers) -> any EventTarget {
        { consumer, handlers in
            switch consumer.target {
            case .webhook: webhook?(consumer) ?? MissingWebhookClient()
            case .bridge(let topics): BridgeTarget(templates: topics.compactMap(BridgeTemplate.init), hub: hub)
            case .handler(let name): HandlerTarget(name: name, handlers: handlers)
            }
        }
    }
}

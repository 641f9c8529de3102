import ChorusCore

/// Which events WebSocket clients may publish (`event_publish`, docs/event-bus.md "From
/// WebSocket clients"): a client whose token names a user, an event type that one of
/// `events_client_types` matches. Everything else is the server side's (the API key, Swift).
enum EventClientPolicy {
    /// Why `user` may not publish an event of `type`, or nil when it may.
    static func denial(type: String, user: String?, allowed: [TopicPattern]) -> ProtocolError? {
        guard !allowed.isEmpty else {
            return ProtocolError(.forbidden, "clients may not publish events on this hub (events_client_types is empty)")
        }
        guard user != nil else { return ProtocolError(.forbidden, "publishing events needs a token with a user") }
        guard let topic = try? Topic(type), allowed.contains(where: { $0.matches(topic) }) else {
            return ProtocolError(.forbidden, "clients may not publish events of type \(ProtocolError.quoted(type)) (events_client_types)")
        }
        return nil
    }

    /// The header that tells consumers which user published a client's event (set by the
    /// hub, so a client cannot claim another user).
    static let userHeader = "chorus-user"
}

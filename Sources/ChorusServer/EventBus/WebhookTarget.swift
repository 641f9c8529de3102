import AsyncHTTPClient
import ChorusCore
public import NIOCore
public import ServiceLifecycle
import Synchronization

/// The target of a `{"webhook": {…}}` consumer: each attempt is one signed `POST` of the
/// event's envelope (``EventEnvelope``) through ``WebhookClient``, the event's id as
/// `webhook-id`, so a receiver deduplicates retries.
struct WebhookTarget: EventTarget {
    let client: WebhookClient
    let endpoint: WebhookEndpoint
    let clock: @Sendable () -> Int64

    /// The target of `consumer` (a webhook consumer), through `clients`' HTTP client.
    init?(_ consumer: EventConsumer, clients: WebhookClients, clock: @escaping @Sendable () -> Int64 = EventBus.systemClock) {
        guard case .webhook(let url, let secrets, let headers) = consumer.target, let client = clients.client() else { return nil }
        // The secrets were checked when the consumer was defined.
        let parsed = secrets.compactMap { try? WebhookSecret(parsing: $0) }
        self.client = client
        self.endpoint = WebhookEndpoint(url: url, secrets: parsed, headers: headers, timeout: consumer.timeout)
        self.clock = clock
    }

    func deliver(_ event: LoggedEvent, consumer: String, attempt: Int) async -> EventDeliveryResult {
        let result = await self.client.deliver(EventEnvelope.json(of: event), id: event.event.eventID, to: self.endpoint, now: self.clock())
        return EventDeliveryResult(outcome: result.outcome, statusCode: result.status, error: result.error)
    }
}

/// The hub's HTTP client for webhook deliveries, as a service: made on the first webhook
/// consumer's first use (a hub without webhooks opens none), shut down when the service group
/// stops, after the bus (it comes before the bus in the group).
public final class WebhookClients: Service, Sendable {
    private enum State {
        case unused
        case open(HTTPClient)
        case closed
    }

    private let eventLoopGroup: any EventLoopGroup
    private let state = Mutex(State.unused)

    /// Clients on `eventLoopGroup` (the hub's), none opened yet.
    public init(eventLoopGroup: any EventLoopGroup) {
        self.eventLoopGroup = eventLoopGroup
    }

    /// The client; nil once the service stopped.
    func client() -> WebhookClient? {
        self.state.withLock { state in
            switch state {
            case .unused:
                let http = HTTPClient(eventLoopGroup: self.eventLoopGroup, configuration: WebhookClient.httpConfiguration)
                state = .open(http)
                return WebhookClient(http: http)
            case .open(let http):
                return WebhookClient(http: http)
            case .closed:
                return nil
            }
        }
    }

    /// Waits for the graceful shutdown, then closes the client if one was made.
    public func run() async throws {
        try? await gracefulShutdown()
        let open: HTTPClient? = self.state.withLock { state in
            defer { state = .closed }
            if case .open(let http) = state { return http }
            return nil
        }
        try await open?.shutdown()
    }
}

import ChorusCore
import ChorusSQLite
import ChorusServer
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// The application's request context. Chorus's routes need the client's address (for the HTTP
/// API's per-address rate limit), so the context keeps it.
struct AppRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }
}

let logger = Logger(label: "embedded-chorus")
let port = Environment().get("PORT").flatMap { Int($0) } ?? 8080

// The library's defaults: loopback, no keys, no demo namespace, nothing on disk. This app keeps
// the last 100 messages of each `chat:` topic, in a store it chooses: the single committer
// (offsets, group commit) over any `MessageStore`, such as `SQLiteMessageStore(path:sync:)` at
// a path of its own. The store is a service: it runs in the group below.
var configuration = HubConfiguration()
configuration.namespaces = ["chat": NamespaceOptions(historySize: 100)]
// Events published to the bus (`POST /api/events/publish`) whose type matches `order.*` go to
// the in-process handler `announce` registered below, with retries and a dead-letter queue.
configuration.eventConsumers = [
    try EventConsumer(parsing: ByteBuffer(string: #"{"name": "announce", "types": ["order.*"], "target": {"handler": "announce"}}"#))
]
let store = try GroupCommitStore(backend: MemoryMessageStore(), logger: logger)
let eventLoopGroup = MultiThreadedEventLoopGroup.singleton
let hub = try Hub(
    configuration: configuration,
    eventLoopGroup: eventLoopGroup,
    authenticator: try Authenticator(configuration: configuration),
    historyStore: store,
    logger: logger
)

// The event bus of the hub, its log in `events.sqlite` (here, the working directory). Webhook
// consumers would share `webhooks`' HTTP client; both are services that run in the group below.
let webhooks = WebhookClients(eventLoopGroup: eventLoopGroup)
let events = try EventBus(hub: hub, openStore: { try SQLiteEventStore(path: "events.sqlite") }, webhooks: webhooks, logger: logger)
events.register(handler: { logged in
    // Returning acknowledges the event; throwing retries it.
    _ = try await hub.publishAndWait(topic: try Topic("chat:lobby"), event: logged.event.type, data: logged.event.data)
}, named: "announce")

// The application's own route, next to Chorus's HTTP API (/api/…, /health, /metrics, …).
let router = Router(context: AppRequestContext.self)
router.get("/hello") { _, _ in
    // Application code publishes through the hub, as the HTTP API does.
    _ = try await hub.publishAndWait(topic: try Topic("chat:lobby"), event: "hello", data: ByteBuffer(string: #""someone said hello""#))
    return "Hello from the application\n"
}
router.addChorusRoutes(hub, events: events)

// One port: WebSocket (/ws) and SSE (/sse) go to the hub, every other request to the router.
let app = Application(
    router: router,
    server: .chorus(hub),
    configuration: .init(address: .hostname("127.0.0.1", port: port)),
    onServerRunning: { channel in logger.info("EmbeddedChorus listening on \(channel.localAddress!)") },
    eventLoopGroupProvider: .shared(eventLoopGroup),
    logger: logger
)

// The application's group handles SIGTERM. It stops its services in reverse order: the
// application first (no new connections; clients get `disconnect` + 1001 after their acks),
// then the bus (its deliveries stop), the hub (connections finish closing), the webhook client,
// and the store (what it accepted is committed).
let group = ServiceGroup(services: [store, webhooks, hub, events, app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
try await group.run()

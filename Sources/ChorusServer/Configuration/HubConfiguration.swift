public import ChorusCore

/// Everything a hub can be configured with. Defaults suit a development machine: loopback only,
/// no keys, anonymous clients allowed, no history kept (and none on disk).
///
/// Values come from, in rising precedence: these defaults (or the ones a program starts from,
/// as `chorus serve` does), the JSON file (`chorus.json` or `CHORUS_CONFIG`), `CHORUS_*`
/// environment variables, command-line flags. See ``ConfigurationOption/all`` for the table of
/// options.
public struct HubConfiguration: Sendable {
    /// Address to listen on.
    public var host = "127.0.0.1"
    /// Port to listen on (0: any free port).
    public var port = 8080
    /// This node's id in a cluster (nil: the host name and a random suffix, new at each start).
    public var nodeID: String?
    /// Where other nodes and operators reach this node, `host:port` (nil: the listening address).
    public var nodeAddress: String?
    /// Event loop threads; 0 means one per core.
    public var threads = 0
    /// HS256 secret that client tokens are signed with.
    public var jwtSecret: String?
    /// Path of a PEM file with an RSA or EC (P-256) public key for RS256/ES256 tokens.
    public var jwtPublicKeyFile: String?
    /// Path of a JWKS (JSON Web Key Set) file.
    public var jwksFile: String?
    /// When set, client tokens must carry this `iss`.
    public var jwtIssuer: String?
    /// When set, client tokens' `aud` must include this.
    public var jwtAudience: String?
    /// Key for the HTTP API (`Authorization: Bearer …`).
    public var apiKey: String?
    /// `nil` means "decide from the keys": allowed when no JWT key and no API key is configured.
    public var allowAnonymous: Bool?
    /// How often the hub pings an idle WebSocket client.
    public var pingInterval: Duration = .seconds(30)
    /// How long a WebSocket may send nothing (not even a pong) before the hub closes it.
    public var idleTimeout: Duration = .seconds(60)
    /// How often an SSE stream gets a keep-alive comment.
    public var sseKeepAliveInterval: Duration = .seconds(15)
    /// Largest inbound WebSocket message or HTTP body, in bytes.
    public var maxMessageSize = 1 << 20
    /// Largest `data` of one published message, in bytes.
    public var maxPublishSize = 64 << 10
    /// Bytes queued to one connection that has stopped reading before it is closed with 4008.
    public var maxBacklog = 4 << 20
    /// Whether a publisher subscribed to the topic it publishes to receives its own message.
    public var deliverToPublisher = true
    /// Origins allowed for the WebSocket upgrade, SSE and the HTTP API; `*` allows any.
    public var allowedOrigins = ["*"]
    /// How long a graceful shutdown waits for clients before it closes them.
    public var shutdownTimeout: Duration = .seconds(10)
    /// Which clients may send `direct` frames (token claims may narrow it further).
    public var directMessages = DirectMessages.authenticated
    /// How long a publish's `idempotency_key` is remembered, so a retry is not delivered twice.
    public var idempotencyWindow: Duration = .seconds(300)
    /// Most `idempotency_key`s remembered at once; past it the oldest are forgotten early.
    public var maxIdempotencyKeys = 50_000

    // Limits (docs/security.md); 0 means unlimited for each.
    /// Open WebSocket and SSE connections from one client address.
    public var maxConnectionsPerIP = 100
    /// Open WebSocket and SSE connections of one user (token `sub`).
    public var maxConnectionsPerUser = 10
    /// WebSocket and SSE connection attempts from one client address per second.
    public var maxConnectRatePerIP = 20
    /// Topics and patterns one connection may be subscribed to at once.
    public var maxSubscriptionsPerConnection = 128
    /// Publishes (and direct and custom frames) one connection may send per second; also what
    /// one user may publish per second over the HTTP API with a client token.
    public var maxPublishRatePerConnection = 100
    /// `subscribe` frames one connection may send per second (bursts up to
    /// `maxSubscriptionsPerConnection`).
    public var maxSubscribeRatePerConnection = 100
    /// Topics one `POST /api/broadcast` may name.
    public var maxBroadcastTopics = 1000
    /// HTTP API requests per second per API key (or per client address, for other callers).
    public var maxAPIRatePerKey = 1000
    /// How long a client may take to send a whole request (slowloris), and how long an idle
    /// keep-alive connection stays open; nil: no limit.
    public var requestTimeout: Duration? = .seconds(10)
    /// Proxies whose `X-Forwarded-For` names the client address (for per-IP limits and logs).
    public var trustedProxies: [String] = []
    /// Per-namespace options (history, …), by namespace name. None by default: no topic keeps
    /// history (`chorus serve` starts from a `demo` namespace that does).
    public var namespaces: [String: NamespaceOptions] = [:]
    /// Where history is kept, unless the application passes its own store. Memory by default
    /// (`chorus serve` starts from SQLite in `chorus-data`).
    public var store = StoreKind.memory
    /// Directory of the embedded SQLite store, when `store` is `sqlite`.
    public var dataDirectory = "chorus-data"
    /// How the SQLite store syncs each group commit.
    public var storeSync = StoreSync.full
    /// Largest the SQLite store may grow, in bytes; nil: as large as the disk allows.
    public var maxStoreSize: Int?
    /// `trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical`.
    public var logLevel = "info"
    /// PEM file with the server's certificate chain (leaf first); with ``tlsKeyFile``, the
    /// port serves `https://` and `wss://`. Both or neither.
    public var tlsCertificateFile: String?
    /// PEM file with the private key of ``tlsCertificateFile``.
    public var tlsKeyFile: String?
    /// A port whose plain HTTP requests are redirected (308) to `https://` on ``port``; nil: none.
    public var tlsRedirectPort: Int?
    /// Serve `/echo`, a WebSocket endpoint that echoes every message (for conformance suites).
    public var echoEndpoint = false
    /// The shared durable store of a cluster (`postgres://user:password@host:port/db?sslmode=…`);
    /// nil: none (one node keeps its history in SQLite or memory).
    public var postgresURL: String?
    /// The most connections the hub opens to PostgreSQL.
    public var postgresPoolSize = 10
    /// How long opening one PostgreSQL connection may take.
    public var postgresConnectTimeout: Duration = .seconds(5)
    /// What carries publishes to subscribers: this process only, or every node of a cluster
    /// through Redis (`redis_url`).
    public var broker = BrokerKind.memory
    /// The Redis of a cluster (`redis://[user:password@]host:port/db`, `rediss://…`,
    /// `redis+unix:///path`); needed when `broker` is `redis`.
    public var redisURL: String?
    /// What the cluster's Redis keys and channels start with, so several clusters can share one Redis.
    public var redisPrefix = "chorus"
    /// Web Push (docs/pwa.md, "Web Push"): the VAPID public key browsers subscribe with
    /// (base64url, 65 bytes); nil: derived from the private key.
    public var pushVAPIDPublicKey: String?
    /// The VAPID private key (base64url, 32 bytes); nil: Web Push is off.
    public var pushVAPIDPrivateKey: String?
    /// The contact push services see in VAPID tokens (`mailto:` or `https:`).
    public var pushVAPIDSubject: String?
    /// Accept `http://` push endpoints on a loopback address (a local push-service stand-in in
    /// tests); push endpoints are otherwise `https://` on a host name.
    public var pushAllowLoopbackHTTP = false
    /// Push subscriptions one user may register.
    public var pushMaxSubscriptionsPerUser = 10
    /// Attempts to hand one message to a push service (retries on 429, 5xx, no answer).
    public var pushMaxAttempts = 5
    /// Whether the hub runs the event bus (docs/event-bus.md): `/api/events/*`, consumers, and
    /// its store (`events.sqlite` in `data_dir`, or PostgreSQL with `postgres_url`).
    public var events = true
    /// A repeated `event_id` within this window is a duplicate, not appended again.
    public var eventsIdempotencyWindow: Duration = .seconds(3600)
    /// How many ids of that window the single-node (SQLite) log keeps in memory; older ones are
    /// looked up in its file.
    public var eventsIdempotencyIDsInMemory = 1_000_000
    /// Largest `data` of one event, in bytes.
    public var eventsMaxDataSize = 65_536
    /// Events older than this are removed (unless a delivery or dead letter still refers to them).
    public var eventsRetentionMaxAge: Duration = .seconds(7 * 86_400)
    /// The most events the log keeps; 0: no limit.
    public var eventsRetentionMaxEvents = 10_000_000
    /// The most bytes of events the log keeps (data, type, id and key); 0: no limit.
    public var eventsRetentionMaxBytes = 10 << 30
    /// JSON Schemas of event types' `data`, by type: each schema's JSON text.
    public var eventSchemas: [String: String] = [:]
    /// Consumers of the event bus from configuration (the API saves others).
    public var eventConsumers: [EventConsumer] = []
    /// Whether the hub serves the messages resource (`/api/messages`, docs/event-bus.md): needs
    /// `events`; adds the `messages` bridge consumer and, unless configured, the `messages` namespace.
    public var messages = false
    /// Event type patterns WebSocket clients with a user may publish (`event_publish`); empty: none.
    public var eventsClientTypes: [TopicPattern] = []

    /// Every option at its default.
    public init() {}

    /// Where history is kept (`store`).
    public enum StoreKind: String, Sendable, CaseIterable {
        /// The embedded SQLite database in `data_dir` (the default of `chorus serve`).
        case sqlite
        /// Memory only: history is lost on restart (topics get new epochs). The library's default.
        case memory
    }

    /// What carries publishes between nodes (`broker`).
    public enum BrokerKind: String, Sendable, CaseIterable {
        /// This process only (one node).
        case memory
        /// Redis pub/sub, with history in Redis streams: every node of a cluster delivers
        /// every topic's messages in one order, and recovers from any node.
        case redis
    }

    /// Who may send `direct` messages to a user (`direct_messages`).
    public enum DirectMessages: String, Sendable, CaseIterable {
        /// Any client that may connect, anonymous ones too.
        case clients
        /// Clients with a token.
        case authenticated
        /// Only the HTTP API with the API key, and code embedding the hub.
        case server
    }

    /// How the SQLite store syncs its commits (`store_sync`).
    public enum StoreSync: String, Sendable, CaseIterable {
        /// fsync on every group commit: an acknowledged publish survives a crash of the machine.
        case full
        /// No fsync per commit: survives the hub being killed, but a power loss may lose the last moments.
        case normal
    }

    /// True when no credential is configured: the hub then runs in development mode.
    public var isDevelopmentMode: Bool {
        self.jwtSecret == nil && self.jwtPublicKeyFile == nil && self.jwksFile == nil && self.apiKey == nil
    }

    /// Whether clients may connect without a token: `allow_anonymous` when set, else in development mode.
    public var anonymousAllowed: Bool {
        self.allowAnonymous ?? self.isDevelopmentMode
    }
}

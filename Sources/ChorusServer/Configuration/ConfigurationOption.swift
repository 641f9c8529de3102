import ChorusPostgres
import ChorusRedis
import Foundation

/// One configuration option: its names in each source, its default and how to parse it.
///
/// The table in ``all`` is the single description of the options: loading, `--help` and
/// docs/configuration.md all come from it.
public struct ConfigurationOption: Sendable {
    /// Key in the JSON file, e.g. `ping_interval`.
    public let key: String
    /// One sentence for `--help` and docs/configuration.md.
    public let help: String
    let defaultText: @Sendable (HubConfiguration) -> String
    let apply: @Sendable (inout HubConfiguration, String) throws(ConfigurationError) -> Void

    /// `CHORUS_PING_INTERVAL`.
    public var environmentVariable: String { "CHORUS_" + self.key.uppercased() }
    /// `--ping-interval`.
    public var flag: String { "--" + self.key.replacingOccurrences(of: "_", with: "-") }
    /// The default of the library's ``HubConfiguration()``.
    public var defaultValue: String { self.defaultValue(in: HubConfiguration()) }

    /// The option's value in `defaults`, as a source would write it.
    public func defaultValue(in defaults: HubConfiguration) -> String { self.defaultText(defaults) }

    func set(_ configuration: inout HubConfiguration, from text: String, source: String) throws(ConfigurationError) {
        do {
            try self.apply(&configuration, text)
        } catch {
            throw ConfigurationError("\(source): \(error.message)")
        }
    }
}

extension ConfigurationOption {
    static func string(
        _ key: String, _ keyPath: any WritableKeyPath<HubConfiguration, String> & Sendable, help: String
    ) -> Self {
        .init(key: key, help: help, defaultText: { $0[keyPath: keyPath] }) { configuration, text throws(ConfigurationError) in
            configuration[keyPath: keyPath] = text
        }
    }

    static func optionalString(
        _ key: String, _ keyPath: any WritableKeyPath<HubConfiguration, String?> & Sendable, help: String
    ) -> Self {
        .init(key: key, help: help, defaultText: { $0[keyPath: keyPath] ?? "(none)" }) { configuration, text throws(ConfigurationError) in
            configuration[keyPath: keyPath] = text.isEmpty ? nil : text
        }
    }

    static func integer(
        _ key: String, _ keyPath: any WritableKeyPath<HubConfiguration, Int> & Sendable, range: ClosedRange<Int>, help: String
    ) -> Self {
        .init(key: key, help: help, defaultText: { String($0[keyPath: keyPath]) }) { configuration, text throws(ConfigurationError) in
            guard let value = Int(text), range.contains(value) else {
                throw ConfigurationError("'\(text)' is not a whole number from \(range.lowerBound) to \(range.upperBound)")
            }
            configuration[keyPath: keyPath] = value
        }
    }

    static func size(
        _ key: String, _ keyPath: any WritableKeyPath<HubConfiguration, Int> & Sendable, help: String
    ) -> Self {
        .init(key: key, help: help, defaultText: { ValueParsing.formatSize($0[keyPath: keyPath]) }) { configuration, text throws(ConfigurationError) in
            configuration[keyPath: keyPath] = try ValueParsing.size(text)
        }
    }

    static func duration(
        _ key: String, _ keyPath: any WritableKeyPath<HubConfiguration, Duration> & Sendable, help: String
    ) -> Self {
        .init(key: key, help: help, defaultText: { ValueParsing.formatDuration($0[keyPath: keyPath]) }) { configuration, text throws(ConfigurationError) in
            configuration[keyPath: keyPath] = try ValueParsing.duration(text)
        }
    }

    static func choice<Choice: RawRepresentable & CaseIterable & Sendable>(
        _ key: String, _ keyPath: any WritableKeyPath<HubConfiguration, Choice> & Sendable, help: String
    ) -> Self where Choice.RawValue == String {
        .init(key: key, help: help, defaultText: { $0[keyPath: keyPath].rawValue }) { configuration, text throws(ConfigurationError) in
            guard let value = Choice(rawValue: text) else {
                throw ConfigurationError("'\(text)' is not one of \(Choice.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            configuration[keyPath: keyPath] = value
        }
    }

    /// The URL of a server the hub connects to (empty: none), shown without its password;
    /// `problem` says what is wrong with a URL, or nil.
    static func serverURL(
        _ key: String, _ keyPath: any WritableKeyPath<HubConfiguration, String?> & Sendable, help: String,
        redacted: @escaping @Sendable (String) -> String, problem: @escaping @Sendable (String) -> String?
    ) -> Self {
        .init(key: key, help: help, defaultText: { $0[keyPath: keyPath].map(redacted) ?? "(none)" }) { configuration, text throws(ConfigurationError) in
            if !text.isEmpty, let problem = problem(text) { throw ConfigurationError(problem) }
            configuration[keyPath: keyPath] = text.isEmpty ? nil : text
        }
    }

    static func boolean(
        _ key: String, _ keyPath: any WritableKeyPath<HubConfiguration, Bool> & Sendable, help: String
    ) -> Self {
        .init(key: key, help: help, defaultText: { String($0[keyPath: keyPath]) }) { configuration, text throws(ConfigurationError) in
            configuration[keyPath: keyPath] = try ValueParsing.boolean(text)
        }
    }
}

extension ConfigurationOption {
    /// Every option the hub reads, in the order `--help` lists them.
    public static let all: [ConfigurationOption] = [
        .string("host", \.host, help: "Address to listen on. Without any key configured only a loopback address is allowed."),
        .integer("port", \.port, range: 0...65535, help: "TCP port (0 picks a free one and logs it)."),
        .optionalString("node_id", \.nodeID, help: "This node's id in /api/nodes and a cluster's shared state; default: the host name and a random suffix, new at each start."),
        .optionalString("node_address", \.nodeAddress, help: "Where this node is reached (host:port), as /api/nodes shows it; default: the address it listens on."),
        .integer("threads", \.threads, range: 0...1024, help: "Event loop threads; 0 means one per CPU core."),
        .init(
            key: "jwt_secret",
            help: "HS256 secret that client tokens are signed with (at least 32 bytes).",
            defaultText: { $0.jwtSecret ?? "(none)" }
        ) { configuration, text throws(ConfigurationError) in
            // RFC 7518 §3.2: an HS256 key must be at least as long as the hash (32 bytes).
            guard text.isEmpty || text.utf8.count >= 32 else {
                throw ConfigurationError("jwt_secret must be at least 32 bytes long for HS256 (got \(text.utf8.count))")
            }
            configuration.jwtSecret = text.isEmpty ? nil : text
        },
        .optionalString("jwt_public_key", \.jwtPublicKeyFile, help: "PEM file with an RSA (RS256) or P-256 (ES256) public key for client tokens."),
        .optionalString("jwks_file", \.jwksFile, help: "JSON Web Key Set file with the keys client tokens are signed with."),
        .optionalString("jwt_issuer", \.jwtIssuer, help: "When set, client tokens must carry this issuer ('iss')."),
        .optionalString("jwt_audience", \.jwtAudience, help: "When set, client tokens' audience ('aud') must include this."),
        .optionalString("api_key", \.apiKey, help: "Key for the HTTP API (Authorization: Bearer <key>)."),
        .init(
            key: "allow_anonymous",
            help: "Accept clients without a token: true, false, or auto (true when no JWT key and no API key is set, else false).",
            defaultText: { $0.allowAnonymous.map { String($0) } ?? "auto" }
        ) { configuration, text throws(ConfigurationError) in
            configuration.allowAnonymous = text == "auto" ? nil : try ValueParsing.boolean(text)
        },
        .duration("ping_interval", \.pingInterval, help: "How often the hub pings each WebSocket client."),
        .duration("idle_timeout", \.idleTimeout, help: "Close a WebSocket that sent nothing (not even a pong) for this long."),
        .duration("sse_keepalive_interval", \.sseKeepAliveInterval, help: "How often an SSE stream gets a ': ping' comment."),
        .size("max_message_size", \.maxMessageSize, help: "Largest inbound WebSocket message or HTTP body (larger frames close with 1009)."),
        .size("max_publish_size", \.maxPublishSize, help: "Largest 'data' of one published message (larger: too_large)."),
        .size("max_backlog", \.maxBacklog, help: "Bytes queued to a client that stopped reading before it is closed with 4008."),
        .boolean("echo_endpoint", \.echoEndpoint, help: "Serve /echo, a WebSocket endpoint that echoes messages (for conformance suites such as Autobahn)."),
        .choice("direct_messages", \.directMessages, help: "Who may send 'direct' frames: clients (anonymous too), authenticated (clients with a token) or server (HTTP API with the API key only)."),
        .boolean("deliver_to_publisher", \.deliverToPublisher, help: "Deliver a client's own publish back to it when it is subscribed."),
        .init(
            key: "allowed_origins",
            help: "Comma-separated origins allowed for WebSocket, SSE and the HTTP API; '*' allows any.",
            defaultText: { $0.allowedOrigins.joined(separator: ",") }
        ) { configuration, text throws(ConfigurationError) in
            let origins = ValueParsing.list(text)
            guard !origins.isEmpty else { throw ConfigurationError("allowed_origins needs at least one origin or '*'") }
            configuration.allowedOrigins = origins
        },
        .init(
            key: "namespaces",
            help: "Per-namespace options as JSON, e.g. {\"chat\": {\"history_size\": 1000, \"history_ttl\": \"24h\"}}.",
            defaultText: { NamespaceOptions.describe($0.namespaces) }
        ) { configuration, text throws(ConfigurationError) in
            configuration.namespaces = try NamespaceOptions.parseAll(text)
        },
        .choice("store", \.store, help: "Where history is kept: sqlite (durable, in data_dir) or memory (lost on restart)."),
        .string("data_dir", \.dataDirectory, help: "Directory of the SQLite store."),
        .choice("store_sync", \.storeSync, help: "full: fsync each group commit (survives power loss); normal: faster, may lose the last moments on power loss."),
        .init(
            key: "max_store_size",
            help: "Largest the SQLite store may grow (e.g. 10GiB); past it, publishes to history topics fail with 'internal'.",
            defaultText: { $0.maxStoreSize.map(ValueParsing.formatSize) ?? "unlimited" }
        ) { configuration, text throws(ConfigurationError) in
            configuration.maxStoreSize = text.isEmpty || text == "unlimited" ? nil : try ValueParsing.size(text)
        },
        .integer("max_connections_per_ip", \.maxConnectionsPerIP, range: 0...10_000_000, help: "Open WebSocket/SSE connections from one client address (0: unlimited)."),
        .integer("max_connections_per_user", \.maxConnectionsPerUser, range: 0...10_000_000, help: "Open WebSocket/SSE connections of one user, by token 'sub' (0: unlimited)."),
        .integer("max_connect_rate_per_ip", \.maxConnectRatePerIP, range: 0...1_000_000_000, help: "WebSocket/SSE connection attempts per second from one client address (0: unlimited)."),
        .integer("max_subscriptions_per_connection", \.maxSubscriptionsPerConnection, range: 0...10_000_000, help: "Topics and patterns one connection may subscribe to (0: unlimited)."),
        .integer("max_publish_rate_per_connection", \.maxPublishRatePerConnection, range: 0...1_000_000_000, help: "Publish, direct and custom frames per second per connection, and messages per second per user over the HTTP API with a client token; refused ones get rate_limited, over twice the rate closes with 4029 (0: unlimited)."),
        .integer("max_subscribe_rate_per_connection", \.maxSubscribeRatePerConnection, range: 0...1_000_000_000, help: "Subscribe frames per second per connection, in bursts of up to max_subscriptions_per_connection; refused ones get rate_limited, over twice the rate closes with 4029 (0: unlimited)."),
        .integer("max_broadcast_topics", \.maxBroadcastTopics, range: 1...10_000_000, help: "Topics one POST /api/broadcast may name; more is refused with 413."),
        .duration("idempotency_window", \.idempotencyWindow, help: "How long a publish's idempotency_key is remembered: a retry within it gets the original ack and is not delivered again. In memory: a restart forgets it."),
        .integer("max_idempotency_keys", \.maxIdempotencyKeys, range: 0...100_000_000, help: "Most idempotency keys remembered at once; past it the oldest are forgotten before their window ends (0: keys are not remembered)."),
        .integer("max_api_rate_per_key", \.maxAPIRatePerKey, range: 0...1_000_000_000, help: "HTTP API requests per second per API key, or per client address for other callers (0: unlimited)."),
        .init(
            key: "request_timeout",
            help: "Time a client may take to send a whole request (headers, and an API call's body) before it is disconnected (slowloris); also how long an idle keep-alive connection stays open. 0: no limit.",
            defaultText: { $0.requestTimeout.map(ValueParsing.formatDuration) ?? "0" }
        ) { configuration, text throws(ConfigurationError) in
            let timeout = try ValueParsing.duration(text)
            configuration.requestTimeout = timeout == .zero ? nil : timeout
        },
        .init(
            key: "trusted_proxies",
            help: "Comma-separated proxy addresses whose X-Forwarded-For header names the client (for per-IP limits).",
            defaultText: { $0.trustedProxies.isEmpty ? "(none)" : $0.trustedProxies.joined(separator: ",") }
        ) { configuration, text throws(ConfigurationError) in
            configuration.trustedProxies = ValueParsing.list(text)
        },
        .duration("shutdown_timeout", \.shutdownTimeout, help: "How long a graceful shutdown waits for clients before it exits anyway."),
        .init(
            key: "log_level",
            help: "trace, debug, info, notice, warning, error or critical.",
            defaultText: { $0.logLevel }
        ) { configuration, text throws(ConfigurationError) in
            let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
            guard levels.contains(text) else { throw ConfigurationError("'\(text)' is not one of \(levels.joined(separator: ", "))") }
            configuration.logLevel = text
        },
        .optionalString("tls_cert", \.tlsCertificateFile, help: "PEM file with the server certificate, then its intermediate certificates: the port serves https:// and wss:// (needs tls_key; reloaded on SIGHUP)."),
        .optionalString("tls_key", \.tlsKeyFile, help: "PEM file with the private key of tls_cert (needs tls_cert; reloaded on SIGHUP)."),
        .init(
            key: "tls_redirect_port",
            help: "With TLS, a second port whose plain HTTP requests are answered 308 with the https:// URL on the hub's port (nothing else is served there).",
            defaultText: { $0.tlsRedirectPort.map(String.init) ?? "(none)" }
        ) { configuration, text throws(ConfigurationError) in
            if text.isEmpty {
                configuration.tlsRedirectPort = nil
                return
            }
            guard let port = Int(text), (1...65535).contains(port) else {
                throw ConfigurationError("'\(text)' is not a port from 1 to 65535")
            }
            configuration.tlsRedirectPort = port
        },
        .serverURL(
            "postgres_url", \.postgresURL,
            help: "PostgreSQL for what a cluster shares: postgres://user:password@host:port/database?sslmode=MODE (disable, prefer, require or verify-full). Migrated at start; reported by /ready.",
            redacted: { (try? PostgresConfiguration(url: $0).redactedURL) ?? "(set)" }
        ) { url in
            do throws(PostgresConfigurationError) {
                _ = try PostgresConfiguration(url: url)
                return nil
            } catch {
                return error.message
            }
        },
        .integer("postgres_pool_size", \.postgresPoolSize, range: 1...1000, help: "Most connections the hub opens to PostgreSQL."),
        .init(
            key: "postgres_connect_timeout",
            help: "How long opening a PostgreSQL connection may take; start-up fails when PostgreSQL does not answer within it.",
            defaultText: { ValueParsing.formatDuration($0.postgresConnectTimeout) }
        ) { configuration, text throws(ConfigurationError) in
            let timeout = try ValueParsing.duration(text)
            guard timeout > .zero else { throw ConfigurationError("postgres_connect_timeout must be longer than 0") }
            configuration.postgresConnectTimeout = timeout
        },
        .choice("broker", \.broker, help: "memory: this process only; redis: a cluster of nodes sharing redis_url (history in Redis streams, recovery from any node)."),
        .serverURL(
            "redis_url", \.redisURL,
            help: "Redis of a cluster: redis://[user:password@]host:port/db, rediss://… (TLS; ?ca=FILE), or redis+unix:///path. Needed with broker redis; reported by /ready.",
            redacted: { RedisConfiguration.redactedURL($0) }
        ) { url in
            do throws(RedisError) {
                _ = try RedisConfiguration(url: url)
                return nil
            } catch {
                return error.message
            }
        },
        .init(
            key: "redis_prefix",
            help: "What the cluster's Redis keys and channels start with; clusters sharing one Redis need different prefixes.",
            defaultText: { $0.redisPrefix }
        ) { configuration, text throws(ConfigurationError) in
            guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
                throw ConfigurationError("redis_prefix must be letters, digits, '-', '_' or '.'")
            }
            configuration.redisPrefix = text
        },
        .optionalString("push_vapid_public_key", \.pushVAPIDPublicKey, help: "Web Push: the VAPID public key (base64url) browsers subscribe with as applicationServerKey; checked against the private key (chorus push keys)."),
        .init(
            key: "push_vapid_private_key",
            help: "Web Push: the VAPID private key (base64url, 32 bytes) the hub signs push requests with; without it the push API answers 409 (chorus push keys).",
            defaultText: { $0.pushVAPIDPrivateKey == nil ? "(none)" : "(set)" }
        ) { configuration, text throws(ConfigurationError) in
            configuration.pushVAPIDPrivateKey = text.isEmpty ? nil : text
        },
        .optionalString("push_vapid_subject", \.pushVAPIDSubject, help: "Web Push: the contact push services see in VAPID tokens, mailto: or https: (required with a private key)."),
        .boolean("push_allow_loopback_http", \.pushAllowLoopbackHTTP, help: "Web Push: accept http:// push endpoints on a loopback address (a local push-service stand-in for tests); otherwise endpoints must be https:// on a host name."),
        .integer("push_max_subscriptions_per_user", \.pushMaxSubscriptionsPerUser, range: 1...1000, help: "Web Push: subscriptions one user may register; more is refused with 413."),
        .integer("push_max_attempts", \.pushMaxAttempts, range: 1...20, help: "Web Push: attempts to hand one message to a push service; 429, 5xx and no answer are retried with backoff (Retry-After honoured)."),
        // The event bus (docs/event-bus.md).
        .boolean("events", \.events, help: "Run the event bus: /api/events/*, consumers (webhooks, bridges, handlers), its store (events.sqlite in data_dir, or PostgreSQL with postgres_url)."),
        .duration("events_idempotency_window", \.eventsIdempotencyWindow, help: "A repeated event_id within this window gets the original's receipt (duplicate: true) and is not appended again."),
        .integer("events_idempotency_ids_in_memory", \.eventsIdempotencyIDsInMemory, range: 0...Int.max, help: "The single-node log (events.sqlite) keeps this many ids of the idempotency window in memory, about 140 bytes each; the oldest beyond it move to its file once a minute and are looked up there (PostgreSQL keeps them all in its table)."),
        .size("events_max_data_size", \.eventsMaxDataSize, help: "Largest 'data' of one event (larger: too_large)."),
        .duration("events_retention_max_age", \.eventsRetentionMaxAge, help: "Events older than this are removed from the log, except those a pending delivery or a dead letter refers to (0: no limit)."),
        .integer("events_retention_max_events", \.eventsRetentionMaxEvents, range: 0...Int.max, help: "The most events the log keeps, oldest removed first (0: no limit)."),
        .size("events_retention_max_bytes", \.eventsRetentionMaxBytes, help: "The most bytes of events (data, type, id, key) the log keeps, oldest removed first (0: no limit)."),
        .init(
            key: "event_schemas",
            help: "JSON Schemas (draft 2020-12) of event types' data, as JSON: {\"order.created\": {\"type\": \"object\", \"required\": [\"id\"]}}.",
            defaultText: { $0.eventSchemas.isEmpty ? "(none)" : "{" + $0.eventSchemas.keys.sorted().map { "\"\($0)\": …" }.joined(separator: ", ") + "}" }
        ) { configuration, text throws(ConfigurationError) in
            configuration.eventSchemas = try EventConfiguration.schemas(text)
        },
        .init(
            key: "event_consumers",
            help: "Consumers of the event bus, as a JSON array of the objects PUT /api/events/consumers/{name} takes (with their 'name').",
            defaultText: { $0.eventConsumers.isEmpty ? "(none)" : $0.eventConsumers.map(\.name).joined(separator: ",") }
        ) { configuration, text throws(ConfigurationError) in
            configuration.eventConsumers = try EventConfiguration.consumers(text)
        },
        .init(
            key: "events_client_types",
            help: "Comma-separated event type patterns (topic syntax: order.*, chat.**) WebSocket clients with a user in their token may publish with event_publish; none: clients publish no events.",
            defaultText: { $0.eventsClientTypes.isEmpty ? "(none)" : $0.eventsClientTypes.map(\.description).joined(separator: ",") }
        ) { configuration, text throws(ConfigurationError) in
            configuration.eventsClientTypes = try EventConfiguration.clientTypes(text)
        },
        .boolean("messages", \.messages, help: "Serve the messages resource /api/messages (needs events): each change an event, bridged to the messages.* topics by the built-in 'messages' consumer; stored in messages.sqlite in data_dir, or PostgreSQL with postgres_url."),
    ]
}

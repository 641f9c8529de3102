public import NIOCore

/// Where and how a ``RedisClient`` or ``RedisSubscriber`` connects; usually made from a URL
/// (``init(url:)``, `redis://…`), then adjusted.
public struct RedisConfiguration: Sendable, Hashable {
    /// Where the server listens.
    public enum Address: Sendable, Hashable {
        /// A host name or IP address and a port.
        case tcp(host: String, port: Int)
        /// A Unix domain socket's path.
        case unixSocket(path: String)
    }

    /// TLS settings (`rediss://`).
    public struct TLS: Sendable, Hashable {
        /// PEM certificates to trust instead of the system's CAs (URL: `?ca=/path`). Default nil.
        public var caFile: String?
        /// Whether the server's certificate and host name are checked. Default true; false
        /// only for tests (URL: `?insecure=true`).
        public var verifiesCertificate: Bool

        /// TLS trusting the system's CAs, or `caFile`'s.
        public init(caFile: String? = nil, verifiesCertificate: Bool = true) {
            self.caFile = caFile
            self.verifiesCertificate = verifiesCertificate
        }
    }

    /// Where the server listens.
    public var address: Address
    /// The ACL user for `AUTH` (nil: the default user).
    public var username: String?
    /// The password for `AUTH` (nil: no `AUTH`).
    public var password: String?
    /// The database chosen by `SELECT` after connecting. Default 0 (no `SELECT`).
    public var database: Int
    /// TLS, or nil for plain TCP.
    public var tls: TLS?
    /// How long a command may wait for its reply before it fails and the connection is reset
    /// (later replies would be matched to the wrong commands). Default 5 s; a blocking
    /// command (`BLPOP`, `XREAD BLOCK`) needs its own wait to be shorter.
    public var commandTimeout: TimeAmount
    /// How long a connection attempt (TCP, TLS and the `AUTH`/`SELECT` handshake) may take.
    /// Default 5 s.
    public var connectTimeout: TimeAmount
    /// The delays between reconnection attempts.
    public var backoff: RedisBackoff
    /// Bounds on the replies the server may send.
    public var parserLimits: RESPParser.Limits

    /// A configuration for `address`, each setting with its default unless given.
    public init(
        address: Address,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        tls: TLS? = nil,
        commandTimeout: TimeAmount = .seconds(5),
        connectTimeout: TimeAmount = .seconds(5),
        backoff: RedisBackoff = RedisBackoff(),
        parserLimits: RESPParser.Limits = RESPParser.Limits()
    ) {
        self.address = address
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
        self.commandTimeout = commandTimeout
        self.connectTimeout = connectTimeout
        self.backoff = backoff
        self.parserLimits = parserLimits
    }
}

import ChorusCore
import NIOCore

/// How a connection receives messages.
public enum TransportKind: String, Sendable, CaseIterable {
    /// WebSocket (`/ws`).
    case webSocket = "websocket"
    /// Server-Sent Events (`/sse`).
    case sse
}

/// A client connection as the fan-out sees it. Every method is called on the connection's
/// event loop only, by the ``LoopShard`` that owns it.
protocol HubConnection: AnyObject {
    var info: ConnectionInfo { get }
    var transport: TransportKind { get }
    /// Whether binary messages go to it as binary WebSocket frames (it opted in), not as JSON.
    var acceptsBinary: Bool { get }
    /// Patterns this connection subscribed to, so the shard can undo them when it closes.
    var subscriptions: SubscriptionSet { get set }
    /// What the client may read; nil when nothing restricts it.
    var access: TopicAccess? { get }
    /// Subscriptions the client may read only part of: each delivery through them is checked.
    var filteredPatterns: Set<TopicPattern> { get set }
    /// The sequence number of the last message written, so a connection that several of its
    /// patterns match receives the message once.
    var lastDeliveredSequence: UInt64 { get set }
    /// Set while the shard has this connection on its list to flush at the end of the tick.
    var flushPending: Bool { get set }
    /// Writes `bytes`, the encoding of `message` for this connection, and with `flush` sends
    /// them (and whatever was queued before) at once; false when they were not written
    /// (closing, over its backlog, or held back while the connection recovers history).
    func enqueue(_ bytes: ByteBuffer, of message: OutboundMessage, flush: Bool) -> Bool
    /// Writes a WebSocket frame other than a message (a presence diff, a signal), as
    /// ``enqueue(_:of:flush:)`` does; an SSE stream carries messages only and writes nothing.
    func enqueue(frame: ByteBuffer, flush: Bool) -> Bool
    func flush()
    /// Periodic housekeeping from the shard's sweep: pings, idle and token-expiry checks.
    func sweep(now: NIODeadline)
    /// Tells the client why (`reason` for programs, `message` for people) and closes.
    func disconnect(code: CloseCode, reason: ReasonCode, message: String, reconnect: Bool)
}

extension HubConnection {
    var acceptsBinary: Bool { false }

    func enqueue(frame: ByteBuffer, flush: Bool) -> Bool { false }
}

/// What the hub tells about a connection (HTTP API, logs).
public struct ConnectionInfo: Sendable {
    /// The connection's number, unique in this process.
    public let id: UInt64
    /// The client id the connection is known by (`from.client`, the API).
    public let client: String
    /// The token's `sub`; nil for an anonymous client.
    public var user: String?
    /// How the connection receives messages.
    public let transport: TransportKind
    /// The client's address (from a trusted proxy's header when there is one).
    public let remoteAddress: String?
    /// Milliseconds since the Unix epoch.
    public let connectedAt: Int64

    /// Who the messages this connection sends are `from`.
    var sender: MessageSender {
        MessageSender(user: self.user, client: self.client)
    }
}

/// Hashes a connection by identity, for the trie and the indexes.
struct ConnectionKey: Hashable {
    let connection: any HubConnection

    static func == (lhs: Self, rhs: Self) -> Bool { lhs.connection === rhs.connection }
    func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self.connection)) }
}

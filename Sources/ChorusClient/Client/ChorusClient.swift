public import ChorusCore
import Foundation
import NIOCore
import NIOPosix
import NIOWebSocket

/// A connection to a Chorus hub, kept up: it reconnects with backoff (rotating through the hub
/// URLs it was given), restores subscriptions with `since` recovery, queues publishes until
/// the hub acknowledges them, measures latency with a heartbeat and renews expired tokens.
///
/// ```swift
/// let client = try ChorusClient(url: "ws://127.0.0.1:8080/ws")
/// await client.connect()
/// let room = client.channel("chat:room1")
/// let messages = try await room.subscribe()
/// try await room.publish(event: "msg", data: ["text": "hello"])
/// for await message in messages { print(message.event, message.dataJSON) }
/// ```
public actor ChorusClient {
    /// The hubs to connect to, in rotation: a lost connection goes on to the next one.
    public nonisolated let endpoints: [HubEndpoint]
    /// The configuration given at creation.
    public nonisolated let configuration: Configuration

    /// The connection's state.
    public var state: ConnectionState { self.machine.state }
    /// The counters.
    public internal(set) var stats = ChorusStats()
    /// Who the hub says this client is: the `connected` frame (or `auth_success`) of the
    /// current or last connection.
    public internal(set) var session: Session?
    /// Why the client stopped, when it stopped on an error.
    public internal(set) var lastError: ChorusClientError?

    var machine: ConnectionStateMachine
    var token: String?
    var endpointIndex = 0
    var link: Link?
    var runTask: Task<Void, Never>?
    var nextRequestID = 0
    var pending: [Int: Pending] = [:]
    var queue: OfflineQueue
    /// How many entries at the front of the queue were sent on the current connection.
    var sentCount = 0
    let outbox: OutboxFile?
    var publishWaiters: [String: [CheckedContinuation<PublishAck, any Error>]] = [:]
    var subscriptions: [String: SubscriptionRecord] = [:]
    var nextStreamID = 0
    var stateStreams = StreamSet<ConnectionState>()
    var directStreams = StreamSet<ChorusMessage>()
    var noticeStreams = StreamSet<ServerFrame>()
    var signalStreams = StreamSet<ChorusSignal>()
    var presences: [String: PresenceRecord] = [:]
    var collections: [String: CollectionRecord] = [:]
    var hasConnectedBefore = false
    var readingPaused = false
    var reconnectHeld = false
    let group: any EventLoopGroup

    /// Who the hub says the client is.
    public struct Session: Sendable, Hashable {
        /// The connection's client id.
        public var client: String
        /// The token's user; nil for an anonymous client.
        public var user: String?
        /// When the token expires, in milliseconds since the Unix epoch.
        public var expiresAt: Int64?
    }

    /// A client for the hub at `url` (`ws://host:port/ws`, `wss://…`). It does not connect
    /// until ``connect()``. A queue file, when configured, is read now.
    public init(url: String, configuration: Configuration = Configuration()) throws {
        try self.init(urls: [url], configuration: configuration)
    }

    /// A client for several hubs (the nodes of a cluster, or a primary and a standby): the
    /// first is tried first, and each lost connection moves on to the next.
    public init(urls: [String], configuration: Configuration = Configuration()) throws {
        guard !urls.isEmpty else { throw ChorusClientError(.badURL, "no hub URL given") }
        self.endpoints = try urls.map { text throws(ChorusClientError) in try HubEndpoint(text) }
        self.configuration = configuration
        self.machine = ConnectionStateMachine(backoff: configuration.backoff, maxAttempts: configuration.maxReconnectAttempts)
        self.token = configuration.token
        self.group = configuration.eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton
        self.outbox = configuration.queueFile.map(OutboxFile.init(url:))
        var entries: [QueuedPublish] = []
        if let outbox = self.outbox {
            do {
                entries = try outbox.load()
            } catch {
                throw ChorusClientError(.storage, "cannot read the queue file \(outbox.url.path): \(error)")
            }
        }
        self.queue = OfflineQueue(limit: configuration.queueLimit, policy: configuration.queuePolicy, entries: entries)
        self.stats.queued = entries.count
    }

    /// Starts connecting (from ``ConnectionState/disconnected`` or ``ConnectionState/error``);
    /// returns at once. Watch ``stateUpdates()`` to know when the client is connected.
    public func connect() {
        guard self.machine.start() == .connect else { return }
        self.lastError = nil
        self.publishState()
        self.runTask = Task { await self.run() }
    }

    /// Closes the connection for good. Requests in flight fail with ``ChorusClientError/Code/closed``;
    /// publishes waiting in the queue fail too, but stay in the queue file, when there is one, for
    /// the next run. Subscription streams finish.
    public func close() async {
        self.machine.close()
        self.publishState()
        self.runTask?.cancel()
        let task = self.runTask
        self.runTask = nil
        self.link?.channel.close(promise: nil)
        await task?.value
        self.stop(ChorusClientError(.closed, "the client was closed"))
    }

    /// The state now, then every change, until the client is deinitialized or the stream is dropped.
    public func stateUpdates() -> AsyncStream<ConnectionState> {
        let id = self.newStreamID()
        return self.stateStreams.add(id: id, initial: self.state) { Task { await self.removeStateStream(id) } }
    }

    /// Waits until the client is connected; throws when it stops (disconnected or error) first.
    public func waitUntilConnected() async throws {
        for await state in self.stateUpdates() {
            switch state {
            case .connected: return
            case .disconnected, .error:
                throw self.lastError ?? ChorusClientError(.disconnected, "the client is not connecting")
            case .connecting, .reconnecting: continue
            }
        }
    }

    /// The channel for a topic or a pattern (`chat:room1`, `chat.*`, `messages.**`). Channels are
    /// cheap views on the client's one connection.
    public nonisolated func channel(_ name: String) -> ChorusChannel {
        ChorusChannel(client: self, name: name)
    }

    /// Direct messages to this client's user (`topic: "direct"`, with `from`).
    public func directMessages() -> AsyncStream<ChorusMessage> {
        let id = self.newStreamID()
        return self.directStreams.add(id: id) { Task { await self.removeDirectStream(id) } }
    }

    /// Frames that answer no request: `error`s without an `id` (a refused `?topic=`, a token
    /// the hub turned down), the hub's `disconnect`, and frames of custom types the hub's
    /// application sends, as ``ServerFrame/custom(type:fields:)``.
    public func notices() -> AsyncStream<ServerFrame> {
        let id = self.newStreamID()
        return self.noticeStreams.add(id: id) { Task { await self.removeNoticeStream(id) } }
    }

    /// Sends a direct message to every connection of `user`; returns the hub's `ack`.
    public func direct(to user: String, event: String = "message", data: some Encodable & Sendable) async throws -> PublishAck {
        let reply = try await self.request(.direct(to: user, event: event, data: try Self.json(data)))
        return try PublishAck(reply)
    }

    /// Publishes an event on the hub's event bus (`event_publish`: types the hub's
    /// `events_client_types` allows, with a token that names a user); returns its receipt once
    /// the event is durable. A repeated `eventID` gets the original's receipt, `duplicate: true`.
    public func publishEvent(
        type: String, data: some Encodable & Sendable, eventID: String? = nil, partitionKey: String? = nil, correlationID: String? = nil
    ) async throws -> EventReceipt {
        let frame = EventPublishFrame(eventType: type, data: try Self.json(data), eventID: eventID, partitionKey: partitionKey, correlationID: correlationID)
        guard case .custom("ack", let fields?) = try await self.request(.eventPublish(frame)), let object = try? JSONObject(parsing: fields),
            let sequence = object["sequence"]?.int64, let timestamp = object["timestamp"]?.int64, let eventID = object["event_id"]?.string,
            let duplicate = object["duplicate"]?.bool
        else {
            throw ChorusClientError(.invalidJSON, "unexpected reply to event_publish")
        }
        return EventReceipt(sequence: sequence, eventID: eventID, timestamp: timestamp, duplicate: duplicate)
    }

    /// Sends a frame of a custom `type` with `fields` (an `Encodable` that encodes as a JSON
    /// object) and returns the hub's reply, which carries the same `id`.
    public func send(type: String, fields: some Encodable & Sendable) async throws -> ServerFrame {
        let object: JSONObject
        do {
            object = try JSONObject(parsing: try Self.json(fields).bytes)
        } catch {
            throw ChorusClientError(.badRequest, "the fields of a custom frame must encode as a JSON object")
        }
        return try await self.request(.custom(type: type, fields: object))
    }

    /// Sends `auth` with `token` and keeps it for later connections; returns the session.
    public func authenticate(token: String) async throws -> Session {
        let reply = try await self.request(.auth(token: token))
        guard case .authSuccess(let client, let user, let expiresAt) = reply else {
            throw ChorusClientError(.invalidJSON, "unexpected reply to auth")
        }
        self.token = token
        let session = Session(client: client, user: user, expiresAt: expiresAt)
        self.session = session
        return session
    }

    /// Sends a `ping` and returns the round trip (also recorded in ``stats``).
    public func ping() async throws -> Duration {
        let start = ContinuousClock.now
        _ = try await self.request(.ping(timestamp: try RawJSON.parsing(String(Self.nowMilliseconds()))))
        let latency = ContinuousClock.now - start
        self.stats.recordLatency(latency)
        return latency
    }

    // MARK: - Shared helpers

    func newStreamID() -> Int {
        self.nextStreamID += 1
        return self.nextStreamID
    }

    func removeStateStream(_ id: Int) { self.stateStreams.remove(id) }
    func removeDirectStream(_ id: Int) { self.directStreams.remove(id) }
    func removeNoticeStream(_ id: Int) { self.noticeStreams.remove(id) }

    func publishState() {
        self.stateStreams.yield(self.state)
    }

    static func nowMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }

    /// `value` as JSON, with the encoder Foundation gives.
    static func json(_ value: some Encodable) throws -> RawJSON {
        let data = try JSONEncoder().encode(value)
        return try RawJSON.parsing(ByteBuffer(bytes: data))
    }
}

extension ChorusClientError.Code {
    /// A request the hub would refuse as `bad_request`, refused before it is sent.
    public static let badRequest = ChorusClientError.Code(ErrorCode.badRequest)
}

public import ChorusCore
public import CoreMetrics
public import Logging
public import NIOCore

/// The running hub: routes publishes to the subscribers of every event loop, and answers what
/// is connected. Transports, the HTTP API and applications embedding Chorus all go through it.
public final class Hub: Sendable {
    /// The configuration the hub runs with.
    public let configuration: HubConfiguration
    /// The hub's metrics, and the counts it reads back for `/api/stats`.
    public let metrics: HubMetrics
    /// Verifies the tokens and API keys of connections and API calls.
    public let authenticator: Authenticator
    let limits: HubLimits
    let logger: Logger
    let shards: [LoopShard]
    private let shardsByLoop: [ObjectIdentifier: LoopShard]
    private let connectionIDs = Identifiers()
    private let messageIDs = Identifiers()
    /// What serves the client frames of its connections, the application's handlers included.
    let features: ConnectionFeatures
    let frameDecoder = ClientFrameDecoder()
    /// Writes and reads history, and assigns offsets; nil when no namespace keeps history.
    let history: (any HistoryStore)?
    /// Every publish goes through it to the subscribers (committed first, on a history topic).
    let broker: any Broker
    /// What this node's clients need from the broker, over every event loop.
    let interests = InterestRegistry()
    /// The receipts of publishes made with an `idempotency_key`, for `idempotency_window`.
    let idempotency: any IdempotencyStore
    /// This process as a node of the cluster.
    public let node: LocalNode
    /// Every node of the cluster (nil: this process alone).
    let nodeDirectory: (any NodeDirectory)?
    /// The dependencies `GET /ready` reports; register an engine's check here.
    public let readiness = Readiness()
    /// Web Push (nil: no VAPID key configured): subscriptions, sending, `push: true` namespaces.
    public let push: PushService?
    /// Whether some namespace has `push: true`: publishes look at their namespace only then.
    private let pushesNamespaces: Bool
    /// The namespaces' WebAssembly transforms; nil when no namespace has one.
    let transforms: HubTransforms?
    /// Who is present in each topic; nil when no namespace has `presence: true`.
    let presence: (any PresenceDirectory)?
    /// Sync collections; nil when no namespace has `sync: true` (or no store was given).
    let sync: SyncService?
    /// The event bus `event_publish` frames go to, once ``ChorusServer`` made it (the bus is made after the hub).
    let eventBus = EventBusSlot()

    /// What a publish returns: the message id, and its place in history once history is on.
    public struct Receipt: Sendable, Equatable {
        /// The id the hub gave the message.
        public var messageID: String
        /// The message's offset in its topic's history; nil when the topic keeps none.
        public var offset: UInt64?
        /// The epoch of that history; nil when the topic keeps none.
        public var epoch: String?
        /// The namespace's transform dropped the message: nothing was stored or delivered, and
        /// `messageID` names it in logs only.
        public var dropped = false
    }

    /// - Parameters:
    ///   - historyStore: where namespaces with history keep it (nil: no history anywhere). It
    ///     must run (it is a `Service`) for history publishes to complete.
    ///   - broker: makes the broker that carries publishes to subscribers, given this process's
    ///     subscribers (by default ``MemoryBroker``: this process only).
    ///   - idempotencyStore: where idempotency keys are remembered (nil: in this process's memory).
    ///   - nodeDirectory: every node of the cluster, for `/api/nodes` (nil: this process alone).
    ///   - metricsFactory: the swift-metrics backend the hub's metrics go to (see ``HubMetrics``).
    public init(
        configuration: HubConfiguration,
        eventLoopGroup: any EventLoopGroup,
        authenticator: Authenticator,
        historyStore: (any HistoryStore)? = nil,
        broker makeBroker: (_ local: any BrokerDelivery) -> any Broker = MemoryBroker.init(local:),
        idempotencyStore: (any IdempotencyStore)? = nil,
        customHandlers: [String: CustomFrameHandler] = [:],
        nodeDirectory: (any NodeDirectory)? = nil,
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        logger: Logger = Logger(label: "chorus"),
        push makePush: (HubMetrics) throws -> PushService? = { _ in nil },
        presenceDirectory makePresenceDirectory: (_ changes: PresenceChanges) -> any PresenceDirectory = MemoryPresenceDirectory.init(changes:),
        syncStore: (any SyncStore)? = nil
    ) throws {
        self.configuration = configuration
        self.node = LocalNode(configuration: configuration)
        self.nodeDirectory = nodeDirectory
        self.idempotency = idempotencyStore ?? MemoryIdempotencyStore(window: configuration.idempotencyWindow, maxKeys: configuration.maxIdempotencyKeys)
        let metrics = HubMetrics(factory: metricsFactory)
        self.metrics = metrics
        self.authenticator = authenticator
        self.limits = HubLimits(configuration: configuration, metrics: metrics)
        self.logger = logger
        var shards: [LoopShard] = []
        for loop in eventLoopGroup.makeIterator() {
            shards.append(LoopShard(eventLoop: loop, metrics: self.metrics, interests: self.interests))
        }
        self.shards = shards
        self.shardsByLoop = Dictionary(uniqueKeysWithValues: shards.map { (ObjectIdentifier($0.eventLoop), $0) })
        let presence = configuration.namespaces.values.contains(where: \.presence)
        self.presence = presence ? makePresenceDirectory(PresenceChanges(shards: shards)) : nil
        self.sync = syncStore.map { SyncService(store: $0, loops: shards.map(\.eventLoop), logger: logger) }
        self.features = .standard(customHandlers: customHandlers, presence: presence, sync: self.sync != nil, events: configuration.events)
        self.transforms = try HubTransforms.load(configuration.namespaces, loops: shards.map(\.eventLoop), metricsFactory: metricsFactory, logger: logger)
        let broker = makeBroker(ShardDelivery(shards: shards))
        self.broker = broker
        self.interests.attach(broker)
        self.history = historyStore
        self.push = try makePush(metrics)
        self.pushesNamespaces = self.push != nil && configuration.namespaces.values.contains(where: \.push)
        // A store that publishes as it commits has done the broker's part already.
        let publishesCommits = historyStore?.publishesCommits ?? false
        historyStore?.onCommit { commit in
            switch commit {
            case .committed(let messages):
                metrics.committed(batchSize: messages.count)
                // The whole commit as one batch: one hop per loop, not per message.
                if !publishesCommits { broker.publish(contentsOf: messages) }
            case .failed(let error, let count):
                metrics.storeFailed()
                logger.error("history store write failed", metadata: ["error": "\(error)", "messages": "\(count)"])
            }
        }
    }

    /// How many messages `topic` keeps, when its namespace keeps history and a store is open.
    func historySize(of topic: Topic) -> Int? {
        guard self.history != nil, let options = self.configuration.namespace(of: topic), options.keepsHistory else { return nil }
        return options.historySize
    }

    /// A new connection's identity: a process-unique id and client string.
    func makeConnectionInfo(transport: TransportKind, user: String?, remoteAddress: String?) -> ConnectionInfo {
        let id = self.connectionIDs.next()
        return ConnectionInfo(
            id: id.number,
            client: id.text,
            user: user,
            transport: transport,
            remoteAddress: remoteAddress,
            connectedAt: WallClock.milliseconds()
        )
    }

    func shard(for loop: any EventLoop) -> LoopShard {
        guard let shard = self.shardsByLoop[ObjectIdentifier(loop)] else {
            preconditionFailure("connection on an event loop outside the hub's group")
        }
        return shard
    }

    /// Publishes `data` (JSON text, already validated) to every subscriber of `topic`.
    ///
    /// Bad input throws at once, and so does a refusal of the namespace's transform
    /// (`transform_failed`); data the transform replaced is what is stored and delivered, and a
    /// message it dropped completes with a `dropped` receipt. A topic whose namespace keeps
    /// history is first committed to the store: `completion` then gets its offset and epoch, or
    /// `internal` if the store failed, and subscribers get the message only once it is stored.
    /// Other topics complete at once.
    ///
    /// - Parameter excludingConnection: the publishing connection, when it must not get its own message.
    /// - Returns: the message id.
    @discardableResult
    public func publish(
        topic: Topic,
        event: String?,
        data: ByteBuffer,
        from sender: MessageSender? = nil,
        excludingConnection: UInt64? = nil,
        binary: Bool = false,
        completion: (@Sendable (Result<Receipt, ProtocolError>) -> Void)? = nil
    ) throws(ProtocolError) -> String {
        try self.checkPublishSize(data)
        // In a cluster the store and the broker share Redis: both are down together.
        guard self.broker.isAvailable else { throw Self.brokerUnavailable }
        var data = data
        if binary, self.transforms?.transforms(topic) == true {
            throw ProtocolError(.badRequest, "namespace '\(topic.namespace)' transforms JSON messages; publish JSON data to it")
        }
        if let transforms = self.transforms, !binary {
            switch try transforms.apply(topic: topic, event: event ?? "message", data: data, maxSize: self.configuration.maxPublishSize) {
            case .deliver(let transformed)?:
                data = transformed
            case .drop?:
                let messageID = self.messageIDs.next().text
                completion?(.success(Receipt(messageID: messageID, dropped: true)))
                return messageID
            case nil:
                break
            }
        }
        self.metrics.messagePublished()
        let envelope = self.makeEnvelope(topic: topic.name, event: event, data: data, from: sender, binary: binary)
        let message = BrokerMessage(envelope: envelope, target: .topic(topic), excludedConnection: excludingConnection)
        if let history = self.history, let keep = self.historySize(of: topic) {
            history.append(HistoryAppend(message: message, keep: keep) { result in
                if self.pushesNamespaces, case .success = result { self.pushToOfflineUsers(envelope, topic: topic) }
                completion?(
                    result.map { Receipt(messageID: $0.envelope.messageID, offset: $0.offset, epoch: $0.envelope.epoch) }
                        .mapError { ProtocolError(.internal, "the message could not be stored: \($0)") }
                )
            })
        } else {
            self.broker.publish(message)
            if self.pushesNamespaces { self.pushToOfflineUsers(envelope, topic: topic) }
            completion?(.success(Receipt(messageID: envelope.messageID)))
        }
        return envelope.messageID
    }

    /// Queues the Web Push of a message to a `push: true` namespace for the users who opted its
    /// topic in and have no connection open here.
    private func pushToOfflineUsers(_ envelope: MessageEnvelope, topic: Topic) {
        guard let push = self.push, self.configuration.namespace(of: topic)?.push == true else { return }
        push.enqueue(message: envelope) { [weak self] users in
            guard let self else { return [] }
            return try await self.connectedUsers(among: users)
        }
    }

    /// ``publish(topic:event:data:from:excludingConnection:binary:completion:)``, once per idempotency
    /// key: a publish under a `key` that succeeded within `idempotency_window` is not delivered
    /// again, and `completion` gets the original's receipt (after the original is stored, when
    /// it still is being stored). Without a key, an ordinary publish.
    public func publish(
        topic: Topic,
        event: String?,
        data: ByteBuffer,
        from sender: MessageSender? = nil,
        excludingConnection: UInt64? = nil,
        binary: Bool = false,
        idempotencyKey key: IdempotencyKey?,
        completion: @escaping @Sendable (Result<Receipt, ProtocolError>) -> Void
    ) throws(ProtocolError) {
        guard let key else {
            try self.publish(topic: topic, event: event, data: data, from: sender, excludingConnection: excludingConnection, binary: binary, completion: completion)
            return
        }
        // Bad input is refused at once, not remembered.
        try self.checkPublishSize(data)
        let idempotency = self.idempotency
        let metrics = self.metrics
        idempotency.claim(key) { claim in
            switch claim {
            case .duplicate(let receipt):
                metrics.duplicatePublishAnswered()
                completion(.success(receipt))
            case .publish:
                do throws(ProtocolError) {
                    try self.publish(topic: topic, event: event, data: data, from: sender, excludingConnection: excludingConnection, binary: binary) { result in
                        idempotency.finish(key, receipt: try? result.get())
                        completion(result)
                    }
                } catch {
                    idempotency.finish(key, receipt: nil)
                    completion(.failure(error))
                }
            }
        }
    }

    /// ``publish(topic:event:data:from:excludingConnection:binary:idempotencyKey:completion:)``,
    /// waiting for the message to be stored (history topics) before returning its receipt.
    public func publishAndWait(
        topic: Topic,
        event: String?,
        data: ByteBuffer,
        from sender: MessageSender? = nil,
        binary: Bool = false,
        idempotencyKey key: IdempotencyKey? = nil
    ) async throws(ProtocolError) -> Receipt {
        let result: Result<Receipt, ProtocolError> = await withCheckedContinuation { continuation in
            do throws(ProtocolError) {
                try self.publish(topic: topic, event: event, data: data, from: sender, binary: binary, idempotencyKey: key) { continuation.resume(returning: $0) }
            } catch {
                continuation.resume(returning: .failure(error))
            }
        }
        return try result.get()
    }

    /// Sends a `message` with topic `direct` to every connection of `user`, on any loop.
    public func send(toUser user: String, event: String?, data: ByteBuffer, from sender: MessageSender? = nil) throws(ProtocolError) -> Receipt {
        try self.checkPublishSize(data)
        guard self.broker.isAvailable else { throw Self.brokerUnavailable }
        let envelope = self.makeEnvelope(topic: "direct", event: event, data: data, from: sender)
        self.broker.publish(BrokerMessage(envelope: envelope, target: .user(user)))
        self.metrics.messagePublished()
        return Receipt(messageID: envelope.messageID)
    }

    /// Writes `frame` (a complete WebSocket frame) to the connection of `client` on this node,
    /// after what was queued for it before; false when no connection of this process has that id.
    func send(_ frame: ByteBuffer, toClient client: String) -> Bool {
        guard let id = self.connectionIDs.number(of: client) else { return false }
        for shard in self.shards { shard.enqueue(.connection(id, frame)) }
        return true
    }

    /// Closes every connection of `user`, on every node the broker reaches, after a
    /// `disconnect` frame with `reason` (v1.1: its `message`; its `reason` is `kicked`).
    public func disconnect(user: String, reason: String, reconnect: Bool) {
        let envelope = self.makeEnvelope(topic: "direct", event: "disconnect", data: ByteBuffer(), from: nil)
        self.broker.publish(BrokerMessage(envelope: envelope, target: .disconnect(user: user, reason: reason, reconnect: reconnect)))
    }

    /// Tells every client the hub is going away and closes it (1001), as shutdown does.
    public func disconnectAll(reason: String) {
        for shard in self.shards {
            shard.enqueue(.disconnectAll(code: .goingAway, reason: .shutdown, message: reason, reconnect: true))
        }
    }

    /// What a publish gets while the cluster's broker cannot carry it.
    private static let brokerUnavailable = ProtocolError(.unavailable, "the cluster's broker (Redis) is unreachable; publish again shortly")

    private func checkPublishSize(_ data: ByteBuffer) throws(ProtocolError) {
        guard data.readableBytes <= self.configuration.maxPublishSize else {
            throw ProtocolError(.tooLarge, "message data is \(data.readableBytes) bytes; the limit is \(self.configuration.maxPublishSize)")
        }
    }

    private func makeEnvelope(topic: String, event: String?, data: ByteBuffer, from sender: MessageSender?, binary: Bool = false) -> MessageEnvelope {
        MessageEnvelope(
            topic: topic,
            event: event ?? "message",
            data: data,
            messageID: self.messageIDs.next().text,
            timestamp: WallClock.milliseconds(),
            from: sender,
            binary: binary
        )
    }

    // MARK: History

    /// A page of `topic`'s history: messages with offset greater than `after`, oldest first, at
    /// most `limit`, and no more once their data reaches `maxBytes` (one message at least), so
    /// what a page holds in memory is bounded however large its messages are.
    public func history(of topic: Topic, after offset: UInt64, limit: Int, maxBytes: Int = Hub.historyPageBytes) async throws -> (state: TopicHistoryState?, messages: [StoredMessage]) {
        try await self.historyPage(of: topic) { $0.messages(topic: topic.name, after: offset, limit: limit, maxBytes: maxBytes, on: $1) }
    }

    /// A page of `topic`'s history read from its newest end: messages with offset less than
    /// `before` (nil: all of them), newest first, at most `limit` and no more once their data
    /// reaches `maxBytes` (one message at least). "The last 50" is one call.
    public func history(of topic: Topic, before offset: UInt64?, limit: Int, maxBytes: Int = Hub.historyPageBytes) async throws -> (state: TopicHistoryState?, messages: [StoredMessage]) {
        try await self.historyPage(of: topic) { $0.messages(topic: topic.name, before: offset ?? .max, limit: limit, maxBytes: maxBytes, on: $1) }
    }

    /// `topic`'s committed position and the page `read` gets from the store that keeps its
    /// history; `notFound` when none does.
    private func historyPage(
        of topic: Topic,
        _ read: (any HistoryStore, any EventLoop) -> EventLoopFuture<[StoredMessage]>
    ) async throws -> (state: TopicHistoryState?, messages: [StoredMessage]) {
        guard let history = self.history, self.historySize(of: topic) != nil else {
            throw ProtocolError(.notFound, "topic '\(topic.name)' has no history: namespace '\(topic.namespace)' keeps none")
        }
        let loop = self.shards[0].eventLoop
        let state = try await history.committedPosition(of: topic.name, on: loop).get().state
        return (state, try await read(history, loop).get())
    }

    /// The most message data one history page holds (1 MiB).
    public static let historyPageBytes = 1 << 20

    // MARK: Introspection

    /// How many distinct topics and patterns have subscribers, over every event loop.
    public func topicCount() async throws -> Int {
        var names = Set<String>()
        for shard in self.shards {
            names.formUnion(try await shard.eventLoop.submit { shard.patternNames() }.get())
        }
        return names.count
    }

    /// Subscribers per topic or pattern, over every event loop (one entry per topic: its size
    /// follows the topics, not the connections).
    public func subscriberCounts() async throws -> [String: Int] {
        var merged: [String: Int] = [:]
        for shard in self.shards {
            for (pattern, count) in try await shard.eventLoop.submit({ shard.subscriberCounts() }).get() {
                merged[pattern, default: 0] += count
            }
        }
        return merged
    }

    /// Up to `limit` open connections with ids above `after` (nil: from the first), oldest
    /// first; each event loop hands over only its own first `limit`.
    public func connections(after: UInt64?, limit: Int) async throws -> [ConnectionInfo] {
        var merged: [ConnectionInfo] = []
        for shard in self.shards {
            merged += try await shard.eventLoop.submit { shard.connections(after: after, limit: limit) }.get()
        }
        return Array(merged.sorted { $0.id < $1.id }.prefix(limit))
    }

    /// The users with at least one connection open on this node.
    public func onlineUsers() async throws -> Set<String> {
        var users = Set<String>()
        for shard in self.shards {
            users.formUnion(try await shard.eventLoop.submit { shard.userNames() }.get())
        }
        return users
    }

    /// Which of `users` have a connection open on this node or, in a cluster, on any other
    /// (asked of the node directory only for those not connected here).
    public func connectedUsers(among users: Set<String>) async throws -> Set<String> {
        guard !users.isEmpty else { return [] }
        let local = try await self.onlineUsers().intersection(users)
        guard let directory = self.nodeDirectory, local.count < users.count else { return local }
        return local.union(try await directory.connectedUsers(among: users.subtracting(local)))
    }
}

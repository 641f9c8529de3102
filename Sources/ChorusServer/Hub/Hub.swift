import ChorusCore
import NIOCore

/// The running hub: routes publishes to the subscribers of every event loop, and answers what
/// is connected. Transports, the HTTP API and applications embedding Chorus all go through it.
public final class Hub: Sendable {
    public let configuration: HubConfiguration
    public let metrics: HubMetrics
    public let authenticator: Authenticator
    let shards: [LoopShard]
    private let shardsByLoop: [ObjectIdentifier: LoopShard]
    private let connectionIDs = Identifiers()
    private let messageIDs = Identifiers()
    let customHandlers: [String: CustomFrameHandler]
    let frameDecoder = ClientFrameDecoder()

    /// What a publish returns: the message id, and its place in history once history is on.
    public struct Receipt: Sendable, Equatable {
        public var messageID: String
        public var offset: UInt64?
        public var epoch: String?
    }

    public init(
        configuration: HubConfiguration,
        eventLoopGroup: any EventLoopGroup,
        authenticator: Authenticator,
        customHandlers: [String: CustomFrameHandler] = [:]
    ) {
        self.configuration = configuration
        self.metrics = HubMetrics()
        self.authenticator = authenticator
        self.customHandlers = customHandlers
        var shards: [LoopShard] = []
        for loop in eventLoopGroup.makeIterator() {
            shards.append(LoopShard(eventLoop: loop, metrics: self.metrics))
        }
        self.shards = shards
        self.shardsByLoop = Dictionary(uniqueKeysWithValues: shards.map { (ObjectIdentifier($0.eventLoop), $0) })
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
    /// - Parameter excludingConnection: the publishing connection, when it must not get its own message.
    public func publish(
        topic: Topic,
        event: String?,
        data: ByteBuffer,
        from sender: MessageSender? = nil,
        excludingConnection: UInt64? = nil
    ) throws(ProtocolError) -> Receipt {
        try self.checkPublishSize(data)
        let message = self.makeMessage(topic: topic, event: event, data: data, from: sender, excluding: excludingConnection)
        for shard in self.shards {
            shard.enqueue(.topic(message))
        }
        self.metrics.messagePublished()
        return Receipt(messageID: message.envelope.messageID)
    }

    /// Sends a `message` with topic `direct` to every connection of `user`, on any loop.
    public func send(toUser user: String, event: String?, data: ByteBuffer, from sender: MessageSender? = nil) throws(ProtocolError) -> Receipt {
        try self.checkPublishSize(data)
        let message = self.makeMessage(topic: nil, event: event, data: data, from: sender, excluding: nil)
        for shard in self.shards {
            shard.enqueue(.user(user, message))
        }
        self.metrics.messagePublished()
        return Receipt(messageID: message.envelope.messageID)
    }

    /// Closes every connection of `user`, after a `disconnect` frame with `reason`.
    public func disconnect(user: String, reason: String, reconnect: Bool) {
        for shard in self.shards {
            shard.enqueue(.disconnectUser(user, reason: reason, reconnect: reconnect))
        }
    }

    /// Tells every client the hub is going away and closes it (1001), as shutdown does.
    public func disconnectAll(reason: String) {
        for shard in self.shards {
            shard.enqueue(.disconnectAll(code: .goingAway, reason: reason, reconnect: true))
        }
    }

    private func checkPublishSize(_ data: ByteBuffer) throws(ProtocolError) {
        guard data.readableBytes <= self.configuration.maxPublishSize else {
            throw ProtocolError(.tooLarge, "message data is \(data.readableBytes) bytes; the limit is \(self.configuration.maxPublishSize)")
        }
    }

    /// A nil topic makes a direct message (`topic: "direct"`).
    private func makeMessage(topic: Topic?, event: String?, data: ByteBuffer, from sender: MessageSender?, excluding: UInt64?) -> OutboundMessage {
        let id = self.messageIDs.next()
        let envelope = MessageEnvelope(
            topic: topic?.name ?? "direct",
            event: event ?? "message",
            data: data,
            messageID: id.text,
            timestamp: WallClock.milliseconds(),
            from: sender
        )
        return OutboundMessage(envelope: envelope, topic: topic, sequence: id.number, excludedConnection: excluding, allocator: ByteBufferAllocator())
    }

    // MARK: Introspection

    /// How many distinct topics and patterns have subscribers, over every event loop.
    public func topicCount() async throws -> Int {
        var names = Set<String>()
        for shard in self.shards {
            names.formUnion(try await shard.eventLoop.submit { shard.patternNames() }.get())
        }
        return names.count
    }

    /// What every event loop holds, merged.
    public func snapshot() async throws -> HubSnapshot {
        var merged = HubSnapshot()
        for shard in self.shards {
            let part = try await shard.eventLoop.submit { shard.snapshot() }.get()
            merged.connections += part.connections
            merged.subscriptionCount += part.subscriptionCount
            for (pattern, count) in part.patterns {
                merged.subscribers[pattern, default: 0] += count
            }
        }
        return merged
    }
}

/// The hub's state at one moment, for the HTTP API.
public struct HubSnapshot: Sendable {
    public var connections: [ConnectionInfo] = []
    public var subscriptionCount = 0
    /// Subscribers per topic or pattern.
    public var subscribers: [String: Int] = [:]
}

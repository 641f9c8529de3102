public import ChorusCore
public import ChorusRedis
public import ServiceLifecycle

/// The cluster's live nodes in Redis: each node writes a hash `<p>:node:<id>` (address,
/// connections, start time) that expires after `lifetime`, and its id into the sorted set
/// `<p>:nodes` scored by the time of its last heartbeat, every `interval`. A node that dies
/// drops out once its hash expires (by default within 5 s); the set's stale ids are pruned
/// by every heartbeat.
public final class RedisNodeDirectory: NodeDirectory, Service {
    private let client: RedisClient
    private let prefix: String
    private let channels: RedisChannels
    private let interval: Duration
    private let lifetime: Duration
    private let current: @Sendable () -> NodeInfo

    /// A directory on `client` where this node, as `current` describes it now, beats every
    /// `interval` and stays listed for `lifetime` after its last beat.
    public init(
        client: RedisClient, channels: RedisChannels = RedisChannels(), interval: Duration = .seconds(1), lifetime: Duration = .seconds(5),
        current: @escaping @Sendable () -> NodeInfo
    ) {
        self.client = client
        self.prefix = channels.prefix
        self.channels = channels
        self.interval = interval
        self.lifetime = lifetime
        self.current = current
    }

    /// Beats until shutdown, then leaves the directory.
    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await self.beat()
            try? await Task.sleep(for: self.interval)
        }
        let id = self.current().id
        _ = try? await self.client.send([RESPCommand("DEL", [.string(self.key(id))]), RESPCommand("ZREM", [.string(self.set), .string(id)])])
    }

    /// Writes this node's entry once.
    public func beat() async throws {
        let node = self.current()
        let now = Int(WallClock.milliseconds())
        let lifetime = Int(self.lifetime.components.seconds * 1000 + self.lifetime.components.attoseconds / 1_000_000_000_000_000)
        _ = try await self.client.send([
            RESPCommand("HSET", [.string(self.key(node.id)), "address", .string(node.address ?? ""), "connections", .integer(node.connections), "started", .integer(Int(node.startedAt))]),
            RESPCommand("PEXPIRE", [.string(self.key(node.id)), .integer(lifetime)]),
            RESPCommand("ZADD", [.string(self.set), .integer(now), .string(node.id)]),
            RESPCommand("ZREMRANGEBYSCORE", [.string(self.set), "-inf", .string("(\(now - lifetime))")]),
        ])
    }

    /// Every node whose entry has not expired, in id order.
    public func nodes() async throws -> [NodeInfo] {
        let ids = try await self.client.send(RESPCommand("ZRANGE", [.string(self.set), "0", "-1"])).array?.compactMap(\.string) ?? []
        guard !ids.isEmpty else { return [] }
        let replies = try await self.client.send(ids.map { RESPCommand("HMGET", [.string(self.key($0)), "address", "connections", "started"]) })
        return zip(ids, replies).compactMap { id, reply in
            guard let fields = reply.array, fields.count == 3, let connections = fields[1].int, let started = fields[2].int else { return nil }
            let address = fields[0].string.flatMap { $0.isEmpty ? nil : $0 }
            return NodeInfo(id: id, address: address, connections: connections, startedAt: Int64(started))
        }.sorted { $0.id < $1.id }
    }

    /// Which of `users` have a connection on some node: a node subscribes to a user's channel
    /// (``RedisChannels/userChannel(_:)``) while it has a connection of theirs, so `PUBSUB
    /// NUMSUB` counts the nodes holding one (a single Redis: Redis Cluster counts per shard).
    public func connectedUsers(among users: Set<String>) async throws -> Set<String> {
        var connected = Set<String>()
        let names = Array(users)
        for start in stride(from: 0, to: names.count, by: 500) {
            let batch = names[start..<min(start + 500, names.count)]
            let arguments: [RESPArgument] = ["NUMSUB"] + batch.map { .string(self.channels.userChannel($0)) }
            let reply = try await self.client.send(RESPCommand("PUBSUB", arguments))
            // [channel, count, channel, count, …] in the order asked.
            let counts = (reply.array ?? []).enumerated().filter { $0.offset % 2 == 1 }.map { $0.element.int ?? 0 }
            for (user, count) in zip(batch, counts) where count > 0 { connected.insert(user) }
        }
        return connected
    }

    private var set: String { "\(self.prefix):nodes" }

    private func key(_ id: String) -> String { "\(self.prefix):node:\(id)" }
}

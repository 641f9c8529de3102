import ChorusCluster
import ChorusCore
import ChorusRedis
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The presence of a cluster on Redis (`broker: redis`): one member list per topic whatever
/// node each member is on. Members live in Redis with their node id (``RedisPresenceKeys``);
/// joins, updates and leaves are atomic scripts that also announce the change on the
/// namespace's channel, and every node, this one included, hears the changes from its
/// subscription and hands them to its ``PresenceChanges``, which batches them per topic per
/// tick for its own subscribers.
///
/// - **Dead nodes:** every `sweepInterval` this node runs the sweep script, which removes the
///   members of every node whose heartbeat (``RedisNodeDirectory``) lapsed and announces their
///   leaves; any number of nodes may sweep at once.
/// - **This node's members** are also kept here, by client: a close leaves them, and whenever
///   the command connection (re)connects the node purges what Redis holds under its id (an
///   earlier run's members, or ones that left while Redis was away) and registers its current
///   members again, in one pipelined batch.
/// - **Signals** to a client of another node go through that node's signal channel.
///
/// Runs as a `Service`: its subscription and the sweep. `/ready`'s `presence` check fails until
/// both its connections are up (before, this node would miss other nodes' changes).
final class RedisPresenceDirectory: PresenceDirectory, Service, ReadinessCheck {
    private struct Local {
        var member: PresenceMember
        var maxMembers: Int
    }

    private let client: RedisClient
    private let subscriber: RedisSubscriber
    private let node: String
    private let keys: RedisPresenceKeys
    private let sweepInterval: Duration
    private let logger: Logger
    /// This node's members: client → topic → member.
    private let local = Mutex<[String: [Topic: Local]]>([:])
    /// Reads of topics' member lists: the one in flight per topic, and who waits for the next.
    private let reads = Mutex(Reads())

    private struct Reads {
        var waiting: [Topic: [EventLoopPromise<PresenceRoster>]] = [:]
        var reading: Set<Topic> = []
    }

    /// Members removed per sweep script call; a purge of this node's own entries takes them all at once.
    static let sweepBatch = 500

    /// The directory of node `node`, with its commands on `client` and its subscription on
    /// `configuration`, hearing the changes of `namespaces` (those with presence) for
    /// `changes`, and handing signals for its clients to `deliverSignal` (client, frame).
    init(
        node: String, client: RedisClient, configuration: RedisConfiguration, keys: RedisPresenceKeys, namespaces: [String], changes: PresenceChanges,
        eventLoopGroup: any EventLoopGroup, sweepInterval: Duration = .seconds(2), logger: Logger,
        deliverSignal: @escaping @Sendable (_ client: String, _ frame: ByteBuffer) -> Void
    ) {
        self.client = client
        self.node = node
        self.keys = keys
        self.sweepInterval = sweepInterval
        self.logger = logger
        let signalChannel = ByteBuffer(string: keys.signalChannel(node: node))
        self.subscriber = RedisSubscriber(configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger) { channel, payload in
            if channel == signalChannel {
                guard let signal = RedisPresenceWireFormat.signal(payload) else { return logger.warning("dropped a malformed relayed signal") }
                deliverSignal(signal.client, signal.frame)
                return
            }
            guard let (topic, announcement) = RedisPresenceWireFormat.announcement(payload) else {
                return logger.warning("dropped a malformed presence announcement", metadata: ["bytes": "\(payload.readableBytes)"])
            }
            changes.record(Self.change(announcement), topic: topic)
        }
        self.subscriber.subscribe([keys.signalChannel(node: node)] + namespaces.map { keys.channel(namespace: $0) })
    }

    /// Keeps the subscription up and sweeps dead nodes until shutdown; registers this node's
    /// members each time the command connection comes up.
    func run() async throws {
        let token = self.client.addConnectionObserver { [self] connected in
            if connected { self.reregister() }
        }
        defer { self.client.removeConnectionObserver(token) }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.subscriber.run() }
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                try? await self.sweep()
                try? await self.registerAgainIfSwept()
                try? await Task.sleep(for: self.sweepInterval)
            }
        }
    }

    /// Whether the subscription is up (announcements and signals reach this node).
    var isConnected: Bool { self.subscriber.isConnected }

    /// `presence`.
    var name: String { "presence" }

    /// Throws while either connection is down.
    func checkReady() async throws {
        guard self.client.isConnected else { throw RedisUnavailable("the presence connection to Redis is down; reconnecting") }
        guard self.subscriber.isConnected else { throw RedisUnavailable("the presence subscription is down; resubscribing") }
    }

    // MARK: PresenceDirectory

    func join(_ member: PresenceMember, topic: Topic, maxMembers: Int, page: PresencePage, on loop: any EventLoop) -> EventLoopFuture<PresenceSnapshot> {
        // Recorded first, so a close while the script runs leaves it (its leave follows the join).
        let isNew = self.local.withLock { local in
            guard local[member.client]?[topic] == nil else { return false }
            local[member.client, default: [:]][topic] = Local(member: member, maxMembers: maxMembers)
            return true
        }
        let value = RedisPresenceWireFormat.value(of: member, node: self.node)
        return self.evaluate(.join, member.client, topic: topic, value: value, meta: member.meta, maxMembers: maxMembers).flatMap { reply -> EventLoopFuture<PresenceSnapshot> in
            guard !reply.isNull else {
                return self.client.eventLoop.makeFailedFuture(
                    ProtocolError(.forbidden, "topic '\(topic.name)' has \(maxMembers) members present, its namespace's presence_max_members")
                )
            }
            // As stored: joining again keeps the first `joined_at`.
            if let joined = reply.buffer.flatMap({ RedisPresenceWireFormat.record($0) }) { self.remember(joined.member, topic: topic) }
            // Read after the join ran: the list has it, and whatever came before it.
            return self.read(page, of: topic)
        }.flatMapErrorThrowing { error in
            if isNew { self.forget(member.client, topic: topic) }
            throw error
        }.hop(to: loop)
    }

    func update(client: String, topic: Topic, meta: ByteBuffer, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        guard let member = self.local.withLock({ $0[client]?[topic]?.member }) else { return loop.makeSucceededFuture(false) }
        let value = RedisPresenceWireFormat.value(of: member, node: self.node)
        return self.evaluate(.update, client, topic: topic, value: value, meta: meta, maxMembers: 0).map { reply in
            guard reply.int == 1 else { return false }
            self.local.withLock { local in local[client]?[topic]?.member.meta = meta }
            return true
        }.hop(to: loop)
    }

    func leave(client: String, topic: Topic, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        self.forget(client, topic: topic)
        return self.runLeave(client, topic: topic).map { $0.int == 1 }.hop(to: loop)
    }

    func leaveAll(client: String) {
        let topics = self.local.withLock { $0.removeValue(forKey: client) } ?? [:]
        for topic in topics.keys {
            self.runLeave(client, topic: topic).whenFailure { error in
                // Purged when the connection is back (``reregister()``), or swept with this node.
                self.logger.warning("a presence leave did not reach Redis", metadata: ["topic": "\(topic.name)", "error": "\(error)"])
            }
        }
    }

    func members(of topic: Topic, page: PresencePage, on loop: any EventLoop) -> EventLoopFuture<PresenceSnapshot> {
        self.read(page, of: topic).hop(to: loop)
    }

    func counts(of topic: Topic, on loop: any EventLoop) -> EventLoopFuture<PresenceCounts> {
        // A page of no members: the counts Redis keeps, without reading the list.
        self.read(PresencePage(limit: 0), of: topic).map(\.counts).hop(to: loop)
    }

    func sharedTopic(of client: String, and other: String, on loop: any EventLoop) -> EventLoopFuture<Topic?> {
        self.locate(other, from: client, relaying: nil).map { $0?.topic }.hop(to: loop)
    }

    func routeSignal(_ frame: ByteBuffer, from sender: String, to target: String, on loop: any EventLoop) -> EventLoopFuture<SignalRoute> {
        let payload = RedisPresenceWireFormat.signal(frame, to: target)
        return self.locate(target, from: sender, relaying: payload).map { found -> SignalRoute in
            guard let found else { return .notFound }
            if found.node == self.node { return .local }
            // Nobody listens on a node's channel once it is gone.
            return found.received > 0 ? .relayed : .notFound
        }.hop(to: loop)
    }

    // MARK: Redis

    private enum Operation: String {
        case join = "j", update = "u"
    }

    private func evaluate(_ operation: Operation, _ client: String, topic: Topic, value: ByteBuffer, meta: ByteBuffer, maxMembers: Int) -> EventLoopFuture<RESPValue> {
        self.client.evaluate(RedisPresenceScripts.member, keys: self.joinKeys(topic), arguments: self.joinArguments(operation, client, topic: topic, value: value, meta: meta, maxMembers: maxMembers))
    }

    private func joinKeys(_ topic: Topic) -> [RESPArgument] {
        [.string(self.keys.members(topic)), .string(self.keys.node(self.node)), .string(self.keys.nodes), .string(self.keys.order(topic)), .string(self.keys.users(topic))]
    }

    private func joinArguments(_ operation: Operation, _ client: String, topic: Topic, value: ByteBuffer, meta: ByteBuffer, maxMembers: Int) -> [RESPArgument] {
        [
            .string(operation.rawValue), .string(client), .bytes(value), .bytes(RedisPresenceWireFormat.metaField(meta)), .integer(maxMembers),
            .string(self.keys.channel(namespace: topic.namespace)), .string(topic.name), .string(self.node),
            .bytes(RedisPresenceWireFormat.nodeEntry(topic: topic, client: client)),
        ]
    }

    private func runLeave(_ client: String, topic: Topic) -> EventLoopFuture<RESPValue> {
        self.client.evaluate(
            RedisPresenceScripts.member,
            keys: [.string(self.keys.members(topic)), .string(self.keys.node(self.node)), .string(self.keys.order(topic)), .string(self.keys.users(topic))],
            arguments: [
                "l", .string(client), .string(self.keys.channel(namespace: topic.namespace)), .string(topic.name),
                .bytes(RedisPresenceWireFormat.nodeEntry(topic: topic, client: client)),
            ]
        )
    }

    /// The first of `sender`'s topics where `target` is present too, the target's node, and how
    /// many received `payload` there (when given and the target is on another node).
    private func locate(_ target: String, from sender: String, relaying payload: ByteBuffer?) -> EventLoopFuture<(topic: Topic, node: String, received: Int)?> {
        let topics = self.local.withLock { $0[sender].map { Array($0.keys) } } ?? []
        guard !topics.isEmpty else { return self.client.eventLoop.makeSucceededFuture(nil) }
        return self.client.evaluate(
            RedisPresenceScripts.member, keys: topics.map { .string(self.keys.members($0)) },
            arguments: ["s", .string(sender), .string(target), .string(self.keys.signalChannel(node: "")), .string(self.node), .bytes(payload ?? ByteBuffer())]
        ).flatMapThrowing { reply in
            guard !reply.isNull else { return nil }
            guard let fields = reply.array, fields.count == 3, let index = fields[0].int, topics.indices.contains(index - 1), let node = fields[1].string,
                let received = fields[2].int
            else { throw RedisPresenceError.malformed }
            return (topics[index - 1], node, received)
        }
    }

    /// The `page` of a topic's members as Redis has them once every change this node made before
    /// the call has run. The whole list is one shared read (``roster(of:)``); a page is read by
    /// the page script, which reads that page only.
    private func read(_ page: PresencePage, of topic: Topic) -> EventLoopFuture<PresenceSnapshot> {
        guard !page.isWhole else { return self.roster(of: topic).map { PresenceSnapshot($0, page: .whole) } }
        let arguments: [RESPArgument] = [
            "p", .string(page.after.map { String($0.joinedAt) } ?? ""), .string(page.after?.client ?? ""), .integer(page.limit ?? -1),
        ]
        return self.client.evaluate(
            RedisPresenceScripts.member, keys: [.string(self.keys.members(topic)), .string(self.keys.order(topic)), .string(self.keys.users(topic))],
            arguments: arguments
        ).flatMapThrowing { reply in
            guard let read = RedisPresenceWireFormat.page(reply) else { throw RedisPresenceError.malformed }
            let members = read.records.map(\.member)
            return PresenceSnapshot(members: members, counts: read.counts, next: read.more ? members.last.map(PresenceCursor.init(after:)) : nil)
        }
    }

    /// A topic's members as Redis has them once every change this node made before the call has
    /// run. At most one read per topic is in flight: the callers that come meanwhile share the
    /// next one, so a burst of joins costs a few reads of the list, not one each.
    private func roster(of topic: Topic) -> EventLoopFuture<PresenceRoster> {
        let promise = self.client.eventLoop.makePromise(of: PresenceRoster.self)
        let start = self.reads.withLock { reads in
            reads.waiting[topic, default: []].append(promise)
            return reads.reading.insert(topic).inserted
        }
        if start { self.read(topic) }
        return promise.futureResult
    }

    private func read(_ topic: Topic) {
        let promises = self.reads.withLock { $0.waiting.removeValue(forKey: topic) } ?? []
        self.client.send(RESPCommand("HVALS", [.string(self.keys.members(topic))])).flatMapThrowing { reply in
            guard let records = RedisPresenceWireFormat.records(reply) else { throw RedisPresenceError.malformed }
            return PresenceRoster(members: records.map(\.member))
        }.whenComplete { result in
            for promise in promises { promise.completeWith(result) }
            let again = self.reads.withLock { reads in
                guard reads.waiting[topic]?.isEmpty == false else {
                    reads.reading.remove(topic)
                    return false
                }
                return true
            }
            if again { self.read(topic) }
        }
    }

    /// Removes the members of dead nodes, a batch at a time, until none is left.
    func sweep() async throws {
        while true {
            let reply = try await self.client.evaluate(RedisPresenceScripts.sweep, keys: [.string(self.keys.nodes)], arguments: self.sweepArguments(purging: nil))
            guard let counts = reply.array, counts.count == 2, let removed = counts[0].int, let remaining = counts[1].int else { throw RedisPresenceError.malformed }
            if removed > 0 { self.logger.info("swept the presence of dead nodes", metadata: ["members": "\(removed)"]) }
            guard remaining > 0 else { return }
        }
    }

    /// Registers this node's members again when a sweep took them: its heartbeat lapsed while it
    /// lived (its main connection to Redis was down for longer than the heartbeat's lifetime).
    func registerAgainIfSwept() async throws {
        guard self.local.withLock({ !$0.isEmpty }) else { return }
        guard try await self.client.send(RESPCommand("SISMEMBER", [.string(self.keys.nodes), .string(self.node)])).int == 0 else { return }
        self.logger.warning("this node's presence members were swept while it lived: registering them again")
        self.reregister()
    }

    private func sweepArguments(purging node: String?) -> [RESPArgument] {
        [.string(self.keys.prefix), .string(self.node), .integer(node == nil ? Self.sweepBatch : Int(Int32.max)), .string(node ?? "")]
    }

    /// Purges what Redis holds under this node's id and registers its members again, in one
    /// pipelined batch (by `EVAL`: Redis may have restarted without its script cache), so peers
    /// hear a member that stayed as a leave and a join in one tick at most.
    private func reregister() {
        let members = self.local.withLock { local in local.values.flatMap { $0.map { ($0.key, $0.value) } } }
        var commands = [RedisPresenceScripts.sweep.command(bySource: true, keys: [.string(self.keys.nodes)], arguments: self.sweepArguments(purging: self.node))]
        for (topic, entry) in members {
            let value = RedisPresenceWireFormat.value(of: entry.member, node: self.node)
            commands.append(
                RedisPresenceScripts.member.command(
                    bySource: true, keys: self.joinKeys(topic),
                    arguments: self.joinArguments(.join, entry.member.client, topic: topic, value: value, meta: entry.member.meta, maxMembers: entry.maxMembers)
                )
            )
        }
        self.client.send(commands).whenComplete { result in
            switch result {
            case .success(let replies):
                let refused = replies.dropFirst().filter { $0.isNull || $0.errorMessage != nil }.count
                if refused > 0 { self.logger.warning("members of this node could not be registered again", metadata: ["members": "\(refused)"]) }
            case .failure(let error):
                self.logger.warning("cannot register this node's presence members in Redis", metadata: ["error": "\(error)"])
            }
        }
    }

    private func remember(_ member: PresenceMember, topic: Topic) {
        self.local.withLock { local in local[member.client]?[topic]?.member = member }
    }

    private func forget(_ client: String, topic: Topic) {
        self.local.withLock { local in
            local[client]?[topic] = nil
            if local[client]?.isEmpty == true { local[client] = nil }
        }
    }

    private static func change(_ announcement: RedisPresenceWireFormat.Announcement) -> PresenceChange {
        switch announcement {
        case .joined(let record): .joined(record.member)
        case .updated(let old, let new): .updated(old: old.member, new: new.member)
        case .left(let record): .left(record.member)
        }
    }
}

/// A reply of the presence scripts that is not what they return.
enum RedisPresenceError: Error, CustomStringConvertible {
    case malformed

    var description: String { "Redis answered a presence script with an unexpected reply" }
}

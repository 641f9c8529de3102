import ChorusCore
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The part of the hub that lives on one event loop: its connections, their subscriptions
/// (a topic trie) and users, and the fan-out job that writes to them.
///
/// Everything but ``enqueue(_:)`` runs on `eventLoop`, so the trie and indexes need no lock.
/// Publishes from any thread land in a locked inbox; one job per loop tick drains the whole
/// inbox and writes each message's pre-encoded bytes to the matching connections. A connection
/// is flushed once per drain: as soon as the drain's last message is written to it, or at the
/// end for connections only earlier messages touched.
final class LoopShard: @unchecked Sendable {
    enum Work {
        case topic(OutboundMessage)
        case user(String, OutboundMessage)
        /// A hub frame other than `message` (a `presence_diff`), encoded once, for the
        /// WebSocket connections subscribed to exactly this topic.
        case frame(Topic, ByteBuffer)
        /// A hub frame for one connection (a `signal`), by its number; ignored where it is not.
        case connection(UInt64, ByteBuffer)
        case disconnectUser(String, message: String, reconnect: Bool)
        case disconnectAll(code: CloseCode, reason: ReasonCode, message: String, reconnect: Bool)
        /// Called once everything queued before it on this loop is written (presence's brake:
        /// its next diff waits until the loops have written the last ones).
        case written(@Sendable () -> Void)
    }

    let eventLoop: any EventLoop
    let metrics: HubMetrics
    /// Hears when an interest starts or ends on this loop.
    let interests: InterestRegistry
    private let inbox = LoopInbox<Work>()

    // Loop-confined state.
    private var connections: [UInt64: any HubConnection] = [:]
    private var trie = TopicTrie<ConnectionKey>()
    private var users: [String: Set<ConnectionKey>] = [:]
    /// The broker interests of this loop's subscriptions (users count in `users`).
    private var subscriptionInterests = InterestCounter<BrokerInterest>()
    private var dirty: [any HubConnection] = []
    /// True while ``drain()`` walks the trie. A write can close its channel at once (a reset
    /// connection, a slow consumer cut off), and the channel's close unregisters it: such
    /// connections wait in `closedWhileDraining` so the trie is not changed under the walk.
    private var draining = false
    private var closedWhileDraining: [any HubConnection] = []
    private var sweepTask: RepeatedTask?
    private let allocator = ByteBufferAllocator()
    /// Work taken from the inbox and not yet done, from `backlogStart` on, and the fan-out being
    /// written: a drain writes for at most `sliceTime` (or `sliceWrites` copies), then lets the
    /// loop serve its sockets (an HTTP publish's answer, pings, other clients' frames) before it
    /// goes on.
    private var backlog: [Work] = []
    private var backlogStart = 0
    private var current: FanOut?
    /// A frame (a presence diff) going to a topic's subscribers, resumed across slices as a
    /// message's fan-out is: a diff to a 10,000-member room is as large a fan-out.
    private var currentFrame: FrameFanOut?
    private let sliceWrites: Int
    private let sliceTime: TimeAmount
    private let clock: () -> NIODeadline

    /// The most copies one slice writes, however fast they go.
    static let defaultSliceWrites = 4_096

    /// How long one slice writes before it yields to the loop's I/O. A 10,000-subscriber
    /// fan-out of one message takes a loop tens of milliseconds (a system call per copy); in
    /// slices of this length an answer queued behind it waits about a millisecond per loop turn.
    static let defaultSliceTime = TimeAmount.milliseconds(1)

    /// The pause before a drain goes on with a fan-out it sliced. Long enough that the loop
    /// polls its sockets first (a task due at once would run in the same tick), and too short to
    /// matter: a slice takes a thousand times as long.
    static let sliceYield = TimeAmount.microseconds(10)

    init(
        eventLoop: any EventLoop, metrics: HubMetrics, interests: InterestRegistry, sliceWrites: Int = LoopShard.defaultSliceWrites,
        sliceTime: TimeAmount = LoopShard.defaultSliceTime, clock: @escaping () -> NIODeadline = NIODeadline.now
    ) {
        precondition(sliceWrites > 0, "a drain must write something")
        self.eventLoop = eventLoop
        self.metrics = metrics
        self.interests = interests
        self.sliceWrites = sliceWrites
        self.sliceTime = sliceTime
        self.clock = clock
    }

    // MARK: From any thread

    /// Queues work for this loop; schedules the drain job only if none is pending, so a burst
    /// of publishes costs one loop hop.
    func enqueue(_ work: Work) {
        self.enqueue(contentsOf: CollectionOfOne(work))
    }

    /// Queues several pieces of work (a group commit's messages) with one lock and at most one hop.
    func enqueue(contentsOf work: some Collection<Work>) {
        if self.inbox.append(contentsOf: work) {
            self.eventLoop.execute { self.drain() }
        }
    }

    func startSweeping(every interval: TimeAmount) {
        self.eventLoop.execute {
            self.sweepTask = self.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                let now = NIODeadline.now()
                for connection in self.connections.values {
                    connection.sweep(now: now)
                }
            }
        }
    }

    /// Completes once the sweep is cancelled, so the loop can then be shut down.
    func stopSweeping() async {
        try? await self.eventLoop.submit {
            self.sweepTask?.cancel()
            self.sweepTask = nil
        }.get()
    }

    // MARK: On the loop

    func register(_ connection: any HubConnection) {
        self.eventLoop.assertInEventLoop()
        self.connections[connection.info.id] = connection
        if let user = connection.info.user {
            self.addUser(user, of: connection)
        }
        self.metrics.connectionOpened(connection.transport)
    }

    /// Removes the connection and everything about it (subscriptions, user index).
    func unregister(_ connection: any HubConnection) {
        self.eventLoop.assertInEventLoop()
        if self.draining {
            self.closedWhileDraining.append(connection)
            return
        }
        guard self.connections.removeValue(forKey: connection.info.id) != nil else { return }
        let key = ConnectionKey(connection: connection)
        for pattern in connection.subscriptions {
            self.removeSubscription(key, pattern)
        }
        connection.subscriptions.removeAll()
        if let user = connection.info.user {
            self.users[user]?.remove(key)
            if self.users[user]?.isEmpty == true {
                self.users[user] = nil
                self.interests.ended(.user(user))
            }
        }
        self.metrics.connectionClosed(connection.transport)
    }

    /// Records the user of a connection that authenticated after connecting.
    func setUser(_ user: String, of connection: any HubConnection) {
        self.eventLoop.assertInEventLoop()
        self.addUser(user, of: connection)
    }

    private func addUser(_ user: String, of connection: any HubConnection) {
        if self.users[user] == nil { self.interests.started(.user(user), on: self.eventLoop) }
        self.users[user, default: []].insert(ConnectionKey(connection: connection))
    }

    /// False when the connection already had this subscription.
    /// - Parameter filtered: whether each delivery must be checked against the connection's access.
    func subscribe(_ connection: any HubConnection, to pattern: TopicPattern, filtered: Bool) -> Bool {
        self.eventLoop.assertInEventLoop()
        if filtered { connection.filteredPatterns.insert(pattern) }
        guard connection.subscriptions.insert(pattern) else { return false }
        self.trie.insert(ConnectionKey(connection: connection), for: pattern)
        let interest = BrokerInterest(pattern)
        if self.subscriptionInterests.retain(interest) { self.interests.started(interest, on: self.eventLoop) }
        self.metrics.subscriptionAdded()
        return true
    }

    /// False when the connection had no such subscription.
    func unsubscribe(_ connection: any HubConnection, from pattern: TopicPattern) -> Bool {
        self.eventLoop.assertInEventLoop()
        guard connection.subscriptions.remove(pattern) else { return false }
        connection.filteredPatterns.remove(pattern)
        self.removeSubscription(ConnectionKey(connection: connection), pattern)
        return true
    }

    private func removeSubscription(_ key: ConnectionKey, _ pattern: TopicPattern) {
        self.trie.remove(key, for: pattern)
        let interest = BrokerInterest(pattern)
        if self.subscriptionInterests.release(interest) { self.interests.ended(interest) }
        self.metrics.subscriptionRemoved()
    }

    func patternNames() -> [String] {
        self.eventLoop.assertInEventLoop()
        var names: [String] = []
        names.reserveCapacity(self.trie.patternCount)
        self.trie.forEachPattern { pattern, _ in names.append(pattern.text) }
        return names
    }

    /// Subscribers per pattern on this loop.
    func subscriberCounts() -> [String: Int] {
        self.eventLoop.assertInEventLoop()
        var patterns: [String: Int] = [:]
        self.trie.forEachPattern { pattern, count in patterns[pattern.text] = count }
        return patterns
    }

    /// Up to `limit` of this loop's connections with ids above `after`, by id.
    func connections(after: UInt64?, limit: Int) -> [ConnectionInfo] {
        self.eventLoop.assertInEventLoop()
        let ids = self.connections.keys.filter { id in after.map { id > $0 } ?? true }.sorted().prefix(limit)
        return ids.compactMap { self.connections[$0]?.info }
    }

    /// The users with a connection on this loop.
    func userNames() -> [String] {
        self.eventLoop.assertInEventLoop()
        return Array(self.users.keys)
    }

    /// Past this much queued work a drain goes on without yielding: the loop's own publishers
    /// then wait for their answers, as before slicing, rather than queue messages faster than
    /// the loop can write them (the backlog, and the hub's memory, would grow without bound).
    static let maxBacklogWhileYielding = 256

    private func drain() {
        repeat {
            self.drainSlice()
        } while self.backlog.count > Self.maxBacklogWhileYielding
        if self.current != nil || self.currentFrame != nil || !self.backlog.isEmpty {
            self.continueAfterIO()
        }
    }

    /// Writes one slice (``SliceBudget``), then flushes what it wrote.
    private func drainSlice() {
        self.backlog.append(contentsOf: self.inbox.take())
        var budget = SliceBudget(copies: self.sliceWrites, time: self.sliceTime, clock: self.clock)
        var delivered = 0
        var bytes = 0
        self.draining = true
        while budget.allowsMore() {
            if self.currentFrame != nil {
                guard self.writeCurrentFrame(budget: &budget) else { break }
                continue
            }
            guard var fanOut = self.current ?? self.nextFanOut() else {
                // The backlog is done, or the next work is a frame to fan out.
                if self.currentFrame != nil { continue }
                break
            }
            // Writing and flushing in one pass over the subscribers sends the first copies at
            // once, rather than after every copy is queued, and touches each connection once
            // while it is in cache: at one message per tick that is most of the hub's own cost.
            // Only when no later message waits: otherwise the end of the drain flushes.
            let flushing = self.backlogStart == self.backlog.count
            if self.write(&fanOut, budget: &budget, flushing: flushing, delivered: &delivered, bytes: &bytes) {
                for message in fanOut.messages { self.metrics.observeDeliveryLatency(since: message.publishedAt) }
                self.current = nil
            } else {
                self.current = fanOut
            }
        }
        self.backlog.removeFirst(self.backlogStart)
        self.backlogStart = 0
        for connection in self.dirty {
            connection.flushPending = false
            connection.flush()
        }
        self.dirty.removeAll(keepingCapacity: true)
        self.draining = false
        for connection in self.closedWhileDraining {
            self.unregister(connection)
        }
        self.closedWhileDraining.removeAll()
        self.metrics.delivered(count: delivered, bytes: bytes)
    }

    /// Schedules the next slice of a drain that ran out of budget, after the loop has polled its
    /// sockets. Publishes meanwhile only queue (the inbox counts as scheduled), or they would
    /// start a drain before the sockets get their turn.
    private func continueAfterIO() {
        // A publish since this drain began has already scheduled the next one.
        guard !self.inbox.markScheduled() else { return }
        self.eventLoop.scheduleTask(in: Self.sliceYield) { self.drain() }
    }

    /// The fan-out of the next message in the backlog, writing the frames to one connection and
    /// doing the disconnects met on the way; nil once the backlog is done, or when it meets a
    /// frame for a topic's subscribers, which becomes ``currentFrame``.
    private func nextFanOut() -> FanOut? {
        while self.backlogStart < self.backlog.count {
            let work = self.backlog[self.backlogStart]
            self.backlogStart += 1
            switch work {
            case .topic(let message):
                guard let topic = message.topic else { continue }
                var fanOut = self.fanOut(of: message, to: topic)
                while self.backlogStart < self.backlog.count, case .topic(let next) = self.backlog[self.backlogStart], fanOut.canAdd(next) {
                    fanOut.add(next, allocator: self.allocator)
                    self.backlogStart += 1
                }
                return fanOut
            case .user(let user, let message):
                return FanOut(message: message, groups: [
                    FanOut.Group(pattern: nil, frames: MessageFrames(message: message, pattern: nil, allocator: self.allocator), subscribers: self.users[user] ?? [])
                ])
            case .frame(let topic, let frame):
                self.currentFrame = FrameFanOut(frame: frame, subscribers: self.trie.subscribers(of: TopicPattern(topic)))
                return nil
            case .connection(let id, let frame):
                if let connection = self.connections[id] { self.write(frame, to: connection, flushing: self.backlogStart == self.backlog.count) }
            case .disconnectUser(let user, let message, let reconnect):
                for key in self.users[user] ?? [] {
                    key.connection.disconnect(code: .normal, reason: .kicked, message: message, reconnect: reconnect)
                }
            case .disconnectAll(let code, let reason, let message, let reconnect):
                for connection in self.connections.values {
                    connection.disconnect(code: code, reason: reason, message: message, reconnect: reconnect)
                }
            case .written(let done):
                done()
            }
        }
        return nil
    }

    /// Exact subscribers first, so a connection that also matches by pattern gets the message
    /// without `sub`, as it asked for this very topic; then each matching pattern's. The sets are
    /// copies (copy-on-write: free until the trie changes), so the trie may change between slices.
    private func fanOut(of message: OutboundMessage, to topic: Topic) -> FanOut {
        var groups = [
            FanOut.Group(pattern: nil, frames: MessageFrames(message: message, pattern: nil, allocator: self.allocator), subscribers: self.trie.subscribers(of: TopicPattern(topic)))
        ]
        self.trie.forEachMatch(of: topic) { pattern, subscribers in
            guard pattern.isWildcard else { return }
            groups.append(FanOut.Group(pattern: pattern, frames: MessageFrames(message: message, pattern: pattern.text, allocator: self.allocator), subscribers: subscribers))
        }
        return FanOut(message: message, groups: groups)
    }

    /// Writes `fanOut` on from where it stopped: true when it is done, false when `budget` ran
    /// out first.
    private func write(_ fanOut: inout FanOut, budget: inout SliceBudget, flushing: Bool, delivered: inout Int, bytes: inout Int) -> Bool {
        let messages = fanOut.messages
        while fanOut.group < fanOut.groups.count {
            let pattern = fanOut.groups[fanOut.group].pattern
            let subscribers = fanOut.groups[fanOut.group].subscribers
            var index = fanOut.position ?? subscribers.startIndex
            while index != subscribers.endIndex {
                guard budget.allowsMore() else {
                    fanOut.position = index
                    return false
                }
                let connection = subscribers[index].connection
                subscribers.formIndex(after: &index)
                // Every message of the fan-out in turn; the last one's write flushes them all.
                for (number, message) in messages.enumerated() {
                    if let pattern, let topic = message.topic, !Self.mayReceive(topic, through: pattern, connection) { continue }
                    guard self.claim(message, for: connection) else { continue }
                    let frame = fanOut.groups[fanOut.group].frames[number].frame(for: connection.transport, binary: connection.acceptsBinary)
                    let last = number == messages.count - 1
                    self.write(frame, of: message, to: connection, flushing: flushing && last, delivered: &delivered, bytes: &bytes)
                    budget.spend()
                }
            }
            fanOut.group += 1
            fanOut.position = nil
        }
        return true
    }

    /// Writes ``currentFrame`` on from where it stopped: true when it is done, false when
    /// `budget` ran out first.
    private func writeCurrentFrame(budget: inout SliceBudget) -> Bool {
        guard var fanOut = self.currentFrame else { return true }
        let flushing = self.backlogStart == self.backlog.count
        var index = fanOut.position ?? fanOut.subscribers.startIndex
        while index != fanOut.subscribers.endIndex {
            guard budget.allowsMore() else {
                fanOut.position = index
                self.currentFrame = fanOut
                return false
            }
            self.write(fanOut.frame, to: fanOut.subscribers[index].connection, flushing: flushing)
            fanOut.subscribers.formIndex(after: &index)
            budget.spend()
        }
        self.currentFrame = nil
        return true
    }

    /// Writes a WebSocket frame other than a message to a connection (SSE carries messages only).
    private func write(_ frame: ByteBuffer, to connection: any HubConnection, flushing: Bool) {
        guard connection.enqueue(frame: frame, flush: flushing) else { return }
        if !flushing && !connection.flushPending {
            connection.flushPending = true
            self.dirty.append(connection)
        }
    }

    /// False when `pattern` is one of the connection's filtered subscriptions and the client may
    /// not read `topic`.
    private static func mayReceive(_ topic: Topic, through pattern: TopicPattern, _ connection: any HubConnection) -> Bool {
        connection.filteredPatterns.isEmpty || !connection.filteredPatterns.contains(pattern) || connection.access.mayRead(topic)
    }

    /// True the first time a message meets a connection that may receive it.
    private func claim(_ message: OutboundMessage, for connection: any HubConnection) -> Bool {
        guard connection.lastDeliveredSequence != message.sequence, connection.info.id != message.excludedConnection else {
            return false
        }
        connection.lastDeliveredSequence = message.sequence
        return true
    }

    /// Writes one copy; `flushing` sends it (with anything queued before it) at once, otherwise
    /// the end of the drain does.
    private func write(_ frame: ByteBuffer, of message: OutboundMessage, to connection: any HubConnection, flushing: Bool, delivered: inout Int, bytes: inout Int) {
        // Flushing here, if an earlier message of this drain listed the connection as dirty,
        // leaves its flush at the end of the drain nothing to send.
        guard connection.enqueue(frame, of: message, flush: flushing) else { return }
        delivered += 1
        bytes += frame.readableBytes
        if !flushing && !connection.flushPending {
            connection.flushPending = true
            self.dirty.append(connection)
        }
    }
}

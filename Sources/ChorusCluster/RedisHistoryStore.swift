public import ChorusCore
public import ChorusRedis
public import Logging
public import NIOCore
public import ServiceLifecycle
import Synchronization

/// A cluster's history in Redis (``RedisHistoryScripts``): Redis assigns every offset, epoch
/// and store sequence, and publishes each message as it commits it, so every node delivers a
/// topic's messages in offset order (``publishesCommits``).
///
/// Appends made within one event-loop tick go out as one pipelined batch of script calls; one
/// batch is in flight at a time, so the callers' order is Redis's order.
public final class RedisHistoryStore: HistoryStore {
    private struct State {
        var pending: [HistoryAppend] = []
        var flushing = false
        var closed = false
        var onCommit: (@Sendable (HistoryCommit) -> Void)?
    }

    private let client: RedisClient
    private let node: String
    private let channels: RedisChannels
    private let keys: RedisHistoryKeys
    private let logLength: Int
    private let ttls: [String: Int64]
    private let logger: Logger
    private let state = Mutex(State())

    /// A store on `client` for node `node`; each namespace's log for pattern replays keeps
    /// `logLength` entries; `ttls` says, per namespace, how long its messages are kept (none:
    /// as many as its history size).
    public init(
        node: String, client: RedisClient, channels: RedisChannels = RedisChannels(), logLength: Int = 100_000, ttls: [String: Duration] = [:],
        logger: Logger = Logger(label: "chorus.cluster")
    ) {
        self.client = client
        self.ttls = ttls.mapValues { $0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000 }
        self.node = node
        self.channels = channels
        self.keys = RedisHistoryKeys(prefix: channels.prefix)
        self.logLength = logLength
        self.logger = logger
    }

    /// Runs until graceful shutdown, then commits what it accepted; later appends fail.
    public func run() async throws {
        try? await gracefulShutdown()
        self.state.withLock { $0.closed = true }
        while self.state.withLock({ $0.flushing }) {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// True: the publish script publishes each message as it commits it.
    public var publishesCommits: Bool { true }

    /// Sets what gets every batch once committed (or failed), in commit order.
    public func onCommit(_ handler: @escaping @Sendable (HistoryCommit) -> Void) {
        self.state.withLock { $0.onCommit = handler }
    }

    /// Queues `message` for the next batch (this event-loop tick's appends) and returns at once.
    public func append(_ message: HistoryAppend) {
        let start: Bool? = self.state.withLock { state in
            guard !state.closed else { return nil }
            state.pending.append(message)
            defer { state.flushing = true }
            return !state.flushing
        }
        switch start {
        case nil:
            message.completion(.failure(StoreError("the history store is shut down")))
            self.state.withLock { $0.onCommit }?(.failed(StoreError("the history store is shut down"), count: 1))
        case true?:
            self.client.eventLoop.execute { self.flush() }
        case false?:
            break
        }
    }

    /// Sends what is pending as one batch; once answered, the next.
    private func flush() {
        let batch = self.state.withLock { state in
            defer { state.pending = [] }
            if state.pending.isEmpty { state.flushing = false }
            return state.pending
        }
        guard !batch.isEmpty else { return }
        let commands = batch.map { self.arguments(for: $0) }
        self.evaluate(commands).whenComplete { result in
            self.complete(batch, result)
            self.flush()
        }
    }

    /// The script's keys and arguments for `append`.
    private func arguments(for append: HistoryAppend) -> (keys: [RESPArgument], arguments: [RESPArgument]) {
        let message = append.message
        let topic = message.envelope.topic
        // A history append's target is its topic; its namespace names the log.
        let namespace = if case .topic(let target) = message.target { String(target.namespace) } else { topic }
        return (
            [.string(self.keys.meta(topic)), .string(self.keys.stream(topic)), .string(self.keys.sequence), .string(self.keys.log(namespace)),
             .string(self.keys.namespaces), .string(self.keys.trimmed)],
            [.string(self.channels.topicChannel(topic)), .bytes(BrokerWireFormat.body(of: message, origin: self.node)), .integer(max(append.keep, 1)),
             .string(String(UInt64.random(in: 1...UInt64.max), radix: 36)), .integer(Int(WallClock.milliseconds()) * 1000), .integer(self.logLength),
             .string(topic), .string(namespace), .integer(Int(message.envelope.timestamp)), .integer(Int(self.ttls[namespace] ?? 0))]
        )
    }

    /// Runs the publish script for each of `calls`, pipelined, by `EVALSHA`; the calls the
    /// server did not have the script for (`NOSCRIPT`, none ran) again by `EVAL`, in order.
    private func evaluate(_ calls: [(keys: [RESPArgument], arguments: [RESPArgument])]) -> EventLoopFuture<[RESPValue]> {
        let script = RedisHistoryScripts.publish
        return self.client.send(calls.map { script.command(bySource: false, keys: $0.keys, arguments: $0.arguments) }).flatMap { replies in
            let missing = replies.indices.filter { replies[$0].errorMessage?.hasPrefix("NOSCRIPT") == true }
            guard !missing.isEmpty else { return self.client.eventLoop.makeSucceededFuture(replies) }
            return self.client.send(missing.map { script.command(bySource: true, keys: calls[$0].keys, arguments: calls[$0].arguments) }).map { retried in
                var replies = replies
                for (index, reply) in zip(missing, retried) { replies[index] = reply }
                return replies
            }
        }
    }

    /// Answers each append of `batch` and hands the outcome to the commit handler, in order.
    private func complete(_ batch: [HistoryAppend], _ result: Result<[RESPValue], any Error>) {
        let handler = self.state.withLock { $0.onCommit }
        var committed: [BrokerMessage] = []
        var failed: (error: StoreError, count: Int)?
        func report() {
            if !committed.isEmpty { handler?(.committed(committed)) }
            if let failure = failed { handler?(.failed(failure.error, count: failure.count)) }
            committed = []
            failed = nil
        }
        for (index, append) in batch.enumerated() {
            switch result.flatMap({ Self.committed(append.message, from: $0[index]) }) {
            case .success(let message):
                if failed != nil { report() }
                append.completion(.success(StoredMessage(envelope: message.envelope, sequence: message.storeSequence ?? 0)))
                committed.append(message)
            case .failure(let error):
                let error = StoreError("Redis did not store the message: \(error)")
                if !committed.isEmpty { report() }
                append.completion(.failure(error))
                failed = (error, (failed?.count ?? 0) + 1)
            }
        }
        report()
    }

    /// `message` with what the script assigned (`{offset, epoch, sequence}`).
    private static func committed(_ message: BrokerMessage, from reply: RESPValue) -> Result<BrokerMessage, any Error> {
        guard let parts = reply.array, parts.count == 3, let offset = parts[0].int, let epoch = parts[1].string, let sequence = parts[2].int else {
            return .failure(RedisError(.protocolError, reply.errorMessage ?? "unexpected reply \(reply)"))
        }
        var message = message
        message.envelope.offset = UInt64(offset)
        message.envelope.epoch = epoch
        message.storeSequence = UInt64(sequence)
        return .success(message)
    }

    // MARK: Reading

    /// `topic`'s offset and epoch and the cluster sequence, read atomically by a script.
    public func committedPosition(of topic: String, on loop: any EventLoop) -> EventLoopFuture<HistoryPosition> {
        self.position(self.client.evaluate(RedisHistoryScripts.position, keys: [.string(self.keys.meta(topic)), .string(self.keys.sequence)]), on: loop)
    }

    /// The position a position script answered (`{offset, epoch, sequence}`), on `loop`.
    private func position(_ reply: EventLoopFuture<RESPValue>, on loop: any EventLoop) -> EventLoopFuture<HistoryPosition> {
        reply.flatMapThrowing { reply in
            guard let parts = reply.array, parts.count == 3 else { throw RedisError(.protocolError, "unexpected reply \(reply)") }
            let state = parts[0].int.flatMap { offset in parts[1].string.map { TopicHistoryState(epoch: $0, lastOffset: UInt64(offset)) } }
            return HistoryPosition(state: state, sequence: UInt64(parts[2].int ?? 0))
        }.hop(to: loop)
    }

    /// ``committedPosition(of:on:)``, except that a topic with no message yet gets its epoch
    /// in Redis now, kept for its namespace's TTL (a day without one) unless a message comes.
    public func subscriberPosition(of topic: String, on loop: any EventLoop) -> EventLoopFuture<HistoryPosition> {
        let namespace = (try? Topic(topic)).map { String($0.namespace) } ?? topic
        let lifetime = self.ttls[namespace] ?? 86_400_000
        let epoch = String(UInt64.random(in: 1...UInt64.max), radix: 36)
        return self.position(
            self.client.evaluate(
                RedisHistoryScripts.subscriberPosition, keys: [.string(self.keys.meta(topic)), .string(self.keys.sequence)],
                arguments: [.string(epoch), .integer(Int(lifetime))]
            ),
            on: loop
        )
    }

    /// The cluster sequence (`GET`).
    public func committedSequence(on loop: any EventLoop) -> EventLoopFuture<UInt64> {
        self.client.send(RESPCommand("GET", [.string(self.keys.sequence)])).map { UInt64($0.int ?? 0) }.hop(to: loop)
    }

    /// Messages of `topic` after `offset`, by `XRANGE`, with its epoch.
    public func messages(topic: String, after offset: UInt64, limit: Int, maxBytes: Int, on loop: any EventLoop) -> EventLoopFuture<[StoredMessage]> {
        self.page(topic: topic, RESPCommand("XRANGE", [.string(self.keys.stream(topic)), .string("\(offset + 1)-0"), "+", "COUNT", .integer(limit)]), maxBytes: maxBytes, on: loop)
    }

    /// Messages of `topic` before `offset`, newest first, by `XREVRANGE`.
    public func messages(topic: String, before offset: UInt64, limit: Int, maxBytes: Int, on loop: any EventLoop) -> EventLoopFuture<[StoredMessage]> {
        guard offset > 1, limit > 0 else { return loop.makeSucceededFuture([]) }
        return self.page(topic: topic, RESPCommand("XREVRANGE", [.string(self.keys.stream(topic)), .string("\(offset - 1)-1"), "-", "COUNT", .integer(limit)]), maxBytes: maxBytes, on: loop)
    }

    /// The messages `range` (an `XRANGE` or `XREVRANGE` of `topic`'s stream) reads, with the
    /// topic's epoch, bounded by `maxBytes`.
    private func page(topic: String, _ range: RESPCommand, maxBytes: Int, on loop: any EventLoop) -> EventLoopFuture<[StoredMessage]> {
        self.client.send([RESPCommand("HGET", [.string(self.keys.meta(topic)), "epoch"]), range]).flatMapThrowing { replies in
            guard let epoch = replies[0].string else { return [] }
            guard let entries = replies[1].array else { throw RedisError(.protocolError, replies[1].errorMessage ?? "unexpected reply \(replies[1])") }
            return Self.bounded(try entries.map { try self.stored($0, epoch: epoch) }, maxBytes: maxBytes)
        }.hop(to: loop)
    }

    /// A stream entry (`[<offset>-1, [q, <sequence>, d, <body>, m, <ms>]]`) as a stored message.
    private func stored(_ entry: RESPValue, epoch: String) throws -> StoredMessage {
        guard let parts = entry.array, parts.count == 2, let id = parts[0].string, let offset = id.split(separator: "-").first.flatMap({ UInt64($0) }),
            let fields = parts[1].array, fields.count >= 4, let sequence = fields[1].int, var body = fields[3].buffer
        else { throw RedisError(.protocolError, "unexpected stream entry \(entry)") }
        var payload = ByteBufferAllocator().buffer(capacity: body.readableBytes + 48)
        for field in [String(offset), epoch, String(sequence)] {
            payload.writeString("\(field.utf8.count):\(field)")
        }
        payload.writeBuffer(&body)
        guard let decoded = BrokerWireFormat.decode(payload, node: self.node) else { throw RedisError(.protocolError, "a stream entry that is not a message") }
        return StoredMessage(envelope: decoded.message.envelope, sequence: UInt64(sequence))
    }

    /// `messages` up to the one that brings their data to `maxBytes`.
    private static func bounded(_ messages: [StoredMessage], maxBytes: Int) -> [StoredMessage] {
        var total = 0
        var result: [StoredMessage] = []
        for message in messages {
            guard total < maxBytes || result.isEmpty else { break }
            total += message.envelope.data.readableBytes
            result.append(message)
        }
        return result
    }

    /// One page of a pattern replay, from the namespace logs (``RedisPatternReplay``).
    public func messages(
        matching patterns: [TopicPattern], afterSequence sequence: UInt64, through last: UInt64, newerThan timestamp: Int64?, limit: Int, maxBytes: Int,
        on loop: any EventLoop
    ) -> EventLoopFuture<[StoredMessage]> {
        RedisPatternReplay(store: self, client: self.client, keys: self.keys, patterns: patterns, through: last, newerThan: timestamp, limit: limit)
            .page(after: sequence)
            .map { Self.bounded($0, maxBytes: maxBytes) }
            .hop(to: loop)
    }

    /// Whether trimming in a namespace of `patterns` dropped a message newer than `timestamp` (an upper bound per namespace: never false wrongly).
    /// A namespace with a TTL may have lost anything older than the TTL without a mark (its keys expire whole).
    public func mayHaveTrimmed(matching patterns: [TopicPattern], newerThan timestamp: Int64, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        let now = WallClock.milliseconds()
        let expired = self.ttls.contains { namespace, ttl in
            timestamp < now - ttl && patterns.contains { $0.namespace.map { String($0) == namespace } ?? true }
        }
        guard !expired else { return loop.makeSucceededFuture(true) }
        return self.client.send(RESPCommand("HGETALL", [.string(self.keys.trimmed)])).map { reply in
            let pairs = reply.array ?? []
            return stride(from: 0, to: pairs.count - 1, by: 2).contains { index in
                guard let namespace = pairs[index].string, let trimmedAt = pairs[index + 1].int, trimmedAt > timestamp else { return false }
                return patterns.contains { $0.namespace.map { String($0) == namespace } ?? true }
            }
        }.hop(to: loop)
    }

    /// Reads the messages of `topic` at `offsets` (pattern replays), in that order; a message
    /// trimmed meanwhile is left out.
    func messages(of entries: [(topic: String, offset: UInt64)]) -> EventLoopFuture<[StoredMessage]> {
        guard !entries.isEmpty else { return self.client.eventLoop.makeSucceededFuture([]) }
        let commands = entries.flatMap { entry in
            [RESPCommand("HGET", [.string(self.keys.meta(entry.topic)), "epoch"]),
             RESPCommand("XRANGE", [.string(self.keys.stream(entry.topic)), .string("\(entry.offset)-1"), .string("\(entry.offset)-1")])]
        }
        return self.client.send(commands).flatMapThrowing { replies in
            try entries.indices.compactMap { index in
                guard let epoch = replies[2 * index].string, let entry = replies[2 * index + 1].array?.first else { return nil }
                return try self.stored(entry, epoch: epoch)
            }
        }
    }
}

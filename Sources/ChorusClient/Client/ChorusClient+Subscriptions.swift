import ChorusCore

extension ChorusClient {
    /// A topic or pattern the application subscribed to, kept across connections.
    struct SubscriptionRecord {
        let pattern: TopicPattern
        var streams = StreamSet<ChorusMessage>()
        var waiters: [CheckedContinuation<Subscribed, any Error>] = []
        /// The newest `{offset, epoch}` seen, for an exact topic.
        var position: (offset: UInt64, epoch: String)?
        /// The newest message time seen, for a pattern (which recovers by time).
        var lastTimestamp: Int64?
        /// Where the first subscribe starts (`chorus sub --since`); used once.
        var initialSince: RecoveryPosition?
        /// Subscribed on the current connection.
        var confirmed = false
        var inFlight = false
        /// A connection ended since the last confirmation: resubscribe with `since`.
        var hasGap = false
    }

    /// The hub's `subscribed` answer.
    public struct Subscribed: Sendable, Hashable {
        /// The topic or pattern.
        public var topic: String
        /// For a topic with history, its newest offset when the subscription began.
        public var offset: UInt64?
        /// That history's epoch.
        public var epoch: String?
        /// After a `since`: whether every missed message is replayed (false: some may be lost).
        public var recovered: Bool?
    }

    /// Subscribes to `name` (sent now, or once connected) and returns its messages; waits for
    /// the hub's `subscribed` and throws its refusal (`forbidden`, `bad_request`, …).
    func subscribe(_ name: String, since: RecoveryPosition?) async throws -> ChorusSubscription {
        let pattern: TopicPattern
        do {
            pattern = try TopicPattern(name)
        } catch {
            throw ChorusClientError(.badRequest, "invalid topic: \(error.description)")
        }
        var record = self.subscriptions[name] ?? SubscriptionRecord(pattern: pattern)
        if record.position == nil, record.lastTimestamp == nil { record.initialSince = since }
        let id = self.newStreamID()
        let stream = record.streams.add(id: id) { Task { await self.streamEnded(name, id: id) } }
        let confirmed = record.confirmed
        self.subscriptions[name] = record
        guard !confirmed else { return ChorusSubscription(topic: name, stream: stream) }
        do {
            _ = try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Subscribed, any Error>) in
                self.subscriptions[name]?.waiters.append(waiter)
                if self.link?.openedAt != nil { self.sendSubscribe(name) }
            }
        } catch {
            // Whoever removed the record finished its streams; a record still here keeps others.
            self.subscriptions[name]?.streams.finish(id)
            throw error
        }
        return ChorusSubscription(topic: name, stream: stream)
    }

    /// Ends the subscription to `name`: its streams finish and the hub is told.
    func unsubscribe(_ name: String) {
        // For the hub an unsubscribe is also a presence leave, and no diff comes any more.
        if self.presences[name] != nil {
            self.presences[name]!.meta = nil
            self.presences[name]!.joined = false
            self.yield(self.presences[name]!.table.clear(), to: name)
        }
        guard let record = self.subscriptions.removeValue(forKey: name) else { return }
        for waiter in record.waiters { waiter.resume(throwing: ChorusClientError(.disconnected, "unsubscribed from '\(name)'")) }
        record.streams.finish()
        if self.link?.openedAt != nil { self.write(.unsubscribe(record.pattern), id: self.newRequestID()) }
    }

    /// A subscriber stopped listening; the last one ends the subscription.
    func streamEnded(_ name: String, id: Int) {
        guard self.subscriptions[name]?.streams.remove(id) == true else { return }
        if self.subscriptions[name]?.streams.isEmpty == true, self.subscriptions[name]?.waiters.isEmpty == true {
            self.unsubscribe(name)
        }
    }

    func sendSubscribe(_ name: String) {
        guard var record = self.subscriptions[name], !record.inFlight else { return }
        var since: RecoveryPosition?
        if record.hasGap {
            if let position = record.position {
                since = .offset(position.offset, epoch: position.epoch)
            } else if record.pattern.isWildcard, let ts = record.lastTimestamp {
                since = .timestamp(milliseconds: ts)
            }
        } else {
            since = record.initialSince
        }
        record.inFlight = true
        self.subscriptions[name] = record
        let id = self.newRequestID()
        // Any `since` (a gap's, or the one the application gave) expects a replay to follow.
        self.pending[id] = .subscribe(name: name, resuming: since != nil)
        self.write(.subscribe(record.pattern, since: since), id: id)
    }

    func subscribeAnswered(_ name: String, reply: ServerFrame, resuming: Bool) {
        guard var record = self.subscriptions[name] else { return }
        record.inFlight = false
        switch reply {
        case .subscribed(let topic, let offset, let epoch, let recovered):
            let wasRecovered = resuming && recovered == true
            if !wasRecovered {
                // A fresh start: the hub's current position is the base.
                record.position = nil
                if let offset, let epoch { record.position = (offset, epoch) }
                if resuming { self.stats.recoveryFailures += 1 }
            }
            record.confirmed = true
            record.hasGap = false
            record.initialSince = nil
            let waiters = record.waiters
            record.waiters.removeAll()
            self.subscriptions[name] = record
            let answer = Subscribed(topic: topic, offset: offset, epoch: epoch, recovered: recovered)
            for waiter in waiters { waiter.resume(returning: answer) }
        case .error(let error):
            // Refused: the subscription ends (a lost connection is not a refusal: it never gets here).
            self.subscriptions[name] = nil
            for waiter in record.waiters { waiter.resume(throwing: ChorusClientError(error)) }
            record.streams.finish()
        default:
            self.subscriptions[name] = record
        }
    }

    /// Whether `name`'s subscription is confirmed on the current connection.
    func isSubscribed(_ name: String) -> Bool {
        self.subscriptions[name]?.confirmed == true
    }

    /// Delivers a message to the subscription it came through.
    func route(_ message: ChorusMessage) {
        let name = message.sub ?? message.topic
        guard var record = self.subscriptions[name] else {
            if message.topic == "direct" {
                self.directStreams.yield(message)
            }
            return
        }
        if let offset = message.offset, let epoch = message.epoch, !record.pattern.isWildcard {
            // Never twice: an offset at or below the one seen in the same epoch was delivered.
            if let position = record.position, position.epoch == epoch, offset <= position.offset { return }
            record.position = (offset, epoch)
        }
        record.lastTimestamp = max(record.lastTimestamp ?? message.timestamp, message.timestamp)
        self.subscriptions[name] = record
        record.streams.yield(message)
    }
}

/// Presence changes gathered per topic between two ticks, turned into `presence_diff` frames
/// (hot-path rule 6: a burst of joins is a few frames per peer, not one per join).
///
/// A pure value: the caller decides when a tick is (``PresenceFlushSchedule``). Within a tick a
/// client that joins then leaves cancels out; an update is a leave of the old member and a join
/// of the new one; peers apply a diff's `leaves` before its `joins`.
public struct PresenceDiffBatcher: Sendable {
    /// One `presence_diff` frame.
    public struct Diff: Sendable, Equatable {
        /// The topic whose members changed.
        public var topic: Topic
        /// Members peers must now see (applied after `leaves`).
        public var joins: [PresenceMember]
        /// Members peers must forget.
        public var leaves: [PresenceMember]
    }

    /// What peers must hear about one client: the member they knew that is gone, and the
    /// member they must now see.
    private struct Pending {
        var left: PresenceMember?
        var joined: PresenceMember?
    }

    private struct TopicChanges {
        /// Clients in the order they first changed, so diffs read in a stable order.
        var order: [String] = []
        var pending: [String: Pending] = [:]
    }

    private var topics: [Topic: TopicChanges] = [:]
    private var topicOrder: [Topic] = []

    /// No changes.
    public init() {}

    /// Whether nothing waits for the next tick.
    public var isEmpty: Bool { self.topics.isEmpty }

    /// Records that `member` joined `topic`.
    public mutating func joined(_ member: PresenceMember, topic: Topic) {
        self.change(topic: topic, client: member.client) { $0.joined = member }
    }

    /// Records that `member` left `topic`; a join peers have not heard of yet is withdrawn instead.
    public mutating func left(_ member: PresenceMember, topic: Topic) {
        self.change(topic: topic, client: member.client) { pending in
            // A join peers have not seen yet is simply withdrawn.
            if pending.joined != nil { pending.joined = nil } else { pending.left = member }
        }
    }

    /// Records a meta update: peers see a leave of `old` and a join of `new`.
    public mutating func updated(from old: PresenceMember, to new: PresenceMember, topic: Topic) {
        self.left(old, topic: topic)
        self.joined(new, topic: topic)
    }

    /// Every topic's changes since the last flush, at most `maxEntries` joins and leaves per
    /// diff (leaves first), and forgets them.
    public mutating func flush(maxEntries: Int) -> [Diff] {
        precondition(maxEntries > 0)
        var diffs: [Diff] = []
        for topic in self.topicOrder {
            guard let changes = self.topics[topic] else { continue }
            var leaves: [PresenceMember] = []
            var joins: [PresenceMember] = []
            for client in changes.order {
                guard let pending = changes.pending[client] else { continue }
                if let left = pending.left { leaves.append(left) }
                if let joined = pending.joined { joins.append(joined) }
            }
            let entries = leaves.map { (true, $0) } + joins.map { (false, $0) }
            var start = 0
            while start < entries.count {
                let chunk = entries[start..<min(start + maxEntries, entries.count)]
                diffs.append(Diff(topic: topic, joins: chunk.filter { !$0.0 }.map(\.1), leaves: chunk.filter(\.0).map(\.1)))
                start += maxEntries
            }
        }
        self.topics.removeAll()
        self.topicOrder.removeAll()
        return diffs
    }

    private mutating func change(topic: Topic, client: String, _ apply: (inout Pending) -> Void) {
        if self.topics[topic] == nil { self.topicOrder.append(topic) }
        var changes = self.topics[topic, default: TopicChanges()]
        var pending = changes.pending[client] ?? Pending()
        if changes.pending[client] == nil { changes.order.append(client) }
        apply(&pending)
        changes.pending[client] = pending.left == nil && pending.joined == nil ? nil : pending
        if changes.pending[client] == nil { changes.order.removeAll { $0 == client } }
        if changes.pending.isEmpty {
            self.topics[topic] = nil
            self.topicOrder.removeAll { $0 == topic }
        } else {
            self.topics[topic] = changes
        }
    }
}

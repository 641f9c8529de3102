public import ChorusCore
import NIOConcurrencyHelpers
public import NIOCore

/// The presence of one process: every topic's ``PresenceRoster`` behind one lock, shared by
/// every event loop (a topic's members are hub-wide, its subscribers are on every loop). Each
/// change is reported under the lock, so diffs keep the order the changes happened in.
public final class MemoryPresenceDirectory: PresenceDirectory {
    private struct State {
        var rosters: [Topic: PresenceRoster] = [:]
        /// The topics each client is present in, for its close.
        var topicsByClient: [String: Set<Topic>] = [:]
    }

    private let state = NIOLockedValueBox(State())
    private let changes: PresenceChanges

    /// A directory reporting its changes to `changes`.
    public init(changes: PresenceChanges) {
        self.changes = changes
    }

    /// `member` joins `topic`, or updates its meta when its client is present already (its
    /// `joined_at` kept). Refused with `forbidden` when the topic has `maxMembers` already.
    /// Completes with the `page` of the topic's members after the join (a copy of that page
    /// only), and the counts.
    public func join(_ member: PresenceMember, topic: Topic, maxMembers: Int, page: PresencePage, on loop: any EventLoop) -> EventLoopFuture<PresenceSnapshot> {
        let result = self.state.withLockedValue { state -> Result<PresenceSnapshot, ProtocolError> in
            if state.rosters[topic]?.members[member.client] == nil, (state.rosters[topic]?.members.count ?? 0) >= maxMembers {
                return .failure(ProtocolError(.forbidden, "topic '\(topic.name)' has \(maxMembers) members present, its namespace's presence_max_members"))
            }
            // Changed in place: a copy of a 10,000-member roster for each join was most of its cost.
            switch state.rosters[topic, default: PresenceRoster()].join(member) {
            case .joined(let joined): self.changes.record(.joined(joined), topic: topic)
            case .updated(let old, let new): self.changes.record(.updated(old: old, new: new), topic: topic)
            }
            state.topicsByClient[member.client, default: []].insert(topic)
            return .success(PresenceSnapshot(state.rosters[topic]!, page: page))
        }
        return loop.makeCompletedFuture(result.mapError { $0 as any Error })
    }

    /// Replaces the meta of `client`'s member of `topic`; false when it is not present.
    public func update(client: String, topic: Topic, meta: ByteBuffer, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        let updated = self.state.withLockedValue { state -> Bool in
            guard var member = state.rosters[topic]?.members[client] else { return false }
            member.meta = meta
            // In place, as a join: a copy of the roster would cost every member of the room.
            guard case .updated(let old, let new)? = state.rosters[topic]?.join(member) else { return false }
            self.changes.record(.updated(old: old, new: new), topic: topic)
            return true
        }
        return loop.makeSucceededFuture(updated)
    }

    /// `client` leaves `topic`; false when it was not present.
    public func leave(client: String, topic: Topic, on loop: any EventLoop) -> EventLoopFuture<Bool> {
        let left = self.state.withLockedValue { state -> Bool in
            guard Self.remove(client, from: topic, in: &state, changes: self.changes) else { return false }
            state.topicsByClient[client]?.remove(topic)
            if state.topicsByClient[client]?.isEmpty == true { state.topicsByClient[client] = nil }
            return true
        }
        return loop.makeSucceededFuture(left)
    }

    /// `client` leaves every topic it is present in (its connection closed).
    public func leaveAll(client: String) {
        self.state.withLockedValue { state in
            for topic in state.topicsByClient.removeValue(forKey: client) ?? [] {
                _ = Self.remove(client, from: topic, in: &state, changes: self.changes)
            }
        }
    }

    /// The `page` of `topic`'s members, oldest first, and its counts.
    public func members(of topic: Topic, page: PresencePage, on loop: any EventLoop) -> EventLoopFuture<PresenceSnapshot> {
        // The page is copied under the lock: a roster taken out of it would share its list with
        // the next change, which would then copy every member.
        let snapshot = self.state.withLockedValue { state in state.rosters[topic].map { PresenceSnapshot($0, page: page) } }
        return loop.makeSucceededFuture(snapshot ?? PresenceSnapshot(members: [], counts: PresenceCounts(clients: 0, users: 0)))
    }

    /// The counts of `topic`, without the member list.
    public func counts(of topic: Topic, on loop: any EventLoop) -> EventLoopFuture<PresenceCounts> {
        loop.makeSucceededFuture(self.state.withLockedValue { $0.rosters[topic]?.counts } ?? PresenceCounts(clients: 0, users: 0))
    }

    /// A topic both clients are present in; nil when they share none (or either is gone).
    public func sharedTopic(of client: String, and other: String, on loop: any EventLoop) -> EventLoopFuture<Topic?> {
        let shared = self.state.withLockedValue { state -> Topic? in
            guard let mine = state.topicsByClient[client], let theirs = state.topicsByClient[other] else { return nil }
            return mine.first(where: theirs.contains)
        }
        return loop.makeSucceededFuture(shared)
    }

    private static func remove(_ client: String, from topic: Topic, in state: inout State, changes: PresenceChanges) -> Bool {
        guard let member = state.rosters[topic]?.leave(client: client) else { return false }
        if state.rosters[topic]?.isEmpty == true { state.rosters[topic] = nil }
        changes.record(.left(member), topic: topic)
        return true
    }
}

public import ChorusCore
public import NIOCore

/// Where the hub keeps who is present in each topic: one member list per topic, hub-wide
/// (``MemoryPresenceDirectory`` for one process; a cluster's directory keeps them in Redis,
/// per node, so they expire with a dead node's heartbeat).
///
/// A directory reports every change of a member list, its own and (in a cluster) other
/// nodes', to the ``PresenceChanges`` it was made with, which turns them into batched
/// `presence_diff` frames for this node's subscribers. The feature only asks and tells.
public protocol PresenceDirectory: Sendable {
    /// `member` joins `topic`, or updates its meta when its client is present already (its
    /// `joined_at` kept). Refused with `forbidden` when the topic has `maxMembers` already.
    /// Completes with the topic's members after the join: the `page` of them (its cost is the
    /// page's, not the whole list's), and the counts.
    func join(_ member: PresenceMember, topic: Topic, maxMembers: Int, page: PresencePage, on loop: any EventLoop) -> EventLoopFuture<PresenceSnapshot>

    /// Replaces the meta of `client`'s member of `topic`; false when it is not present.
    func update(client: String, topic: Topic, meta: ByteBuffer, on loop: any EventLoop) -> EventLoopFuture<Bool>

    /// `client` leaves `topic`; false when it was not present.
    func leave(client: String, topic: Topic, on loop: any EventLoop) -> EventLoopFuture<Bool>

    /// `client` leaves every topic it is present in (its connection closed).
    func leaveAll(client: String)

    /// The `page` of `topic`'s members, oldest first (reading only that page), and its counts.
    func members(of topic: Topic, page: PresencePage, on loop: any EventLoop) -> EventLoopFuture<PresenceSnapshot>

    /// The counts of `topic`, without the member list.
    func counts(of topic: Topic, on loop: any EventLoop) -> EventLoopFuture<PresenceCounts>

    /// A topic both clients are present in; nil when they share none (or either is gone).
    func sharedTopic(of client: String, and other: String, on loop: any EventLoop) -> EventLoopFuture<Topic?>

    /// Where `frame`, a `signal` from `sender` to `target`, goes: `local` when the target is a
    /// connection of this node (the caller writes it), `relayed` when the directory handed it to
    /// the node holding the target, `notFound` when the two share no presence topic. A directory
    /// of one process answers from ``sharedTopic(of:and:on:)``.
    func routeSignal(_ frame: ByteBuffer, from sender: String, to target: String, on loop: any EventLoop) -> EventLoopFuture<SignalRoute>
}

extension PresenceDirectory {
    /// Joins and completes with every member of the topic.
    public func join(_ member: PresenceMember, topic: Topic, maxMembers: Int, on loop: any EventLoop) -> EventLoopFuture<PresenceSnapshot> {
        self.join(member, topic: topic, maxMembers: maxMembers, page: .whole, on: loop)
    }

    /// Every member of `topic`, oldest first, and its counts.
    public func members(of topic: Topic, on loop: any EventLoop) -> EventLoopFuture<PresenceSnapshot> {
        self.members(of: topic, page: .whole, on: loop)
    }

    /// Every target is on this process: `local` when the two share a topic.
    public func routeSignal(_ frame: ByteBuffer, from sender: String, to target: String, on loop: any EventLoop) -> EventLoopFuture<SignalRoute> {
        self.sharedTopic(of: sender, and: target, on: loop).map { $0 == nil ? .notFound : .local }
    }
}

/// What became of a `signal` (``PresenceDirectory/routeSignal(_:from:to:on:)``).
public enum SignalRoute: Sendable, Equatable {
    /// The target is a connection of this node.
    case local
    /// Relayed to the node holding the target.
    case relayed
    /// Sender and target share no presence topic (or the target is gone).
    case notFound
}

/// A topic's member list at one moment, or a page of it.
public struct PresenceSnapshot: Sendable {
    /// Oldest first.
    public var members: [PresenceMember]
    /// Connections and distinct users present (in the whole list).
    public var counts: PresenceCounts
    /// Where the next page starts, when members remain after `members`.
    public var next: PresenceCursor?

    /// A snapshot of `members` (oldest first) with the list's `counts`, and the cursor of the
    /// next page when there is one.
    public init(members: [PresenceMember], counts: PresenceCounts, next: PresenceCursor? = nil) {
        self.members = members
        self.counts = counts
        self.next = next
    }

    /// The `page` of `roster`.
    public init(_ roster: PresenceRoster, page: PresencePage) {
        let (members, next) = roster.page(page)
        self.init(members: members, counts: roster.counts, next: next)
    }

    /// The `presence_state` of `topic` that says this.
    public func frame(topic: Topic) -> ServerFrame {
        .presenceState(topic: topic.name, members: self.members, counts: self.counts, next: self.next)
    }
}

/// A change of a topic's member list, as a ``PresenceDirectory`` reports it.
public enum PresenceChange: Sendable, Equatable {
    /// A member joined.
    case joined(PresenceMember)
    /// A member changed its meta.
    case updated(old: PresenceMember, new: PresenceMember)
    /// A member left.
    case left(PresenceMember)
}

import ChorusCore
import NIOCore

/// The recovery gate of one connection (WebSocket or SSE), as a pure state machine: the seam
/// between replayed history and live messages, and the paging of each replay.
///
/// Each replay has a key (its topic's name, its pattern, or the SSE stream's one resume) and a floor,
/// the store sequence committed when it started: live messages at or below the floor were
/// replayed (or precede the subscription) and are dropped; newer ones are held until the replay
/// is over, then released. A store across the network answers the floor later: from the moment
/// the live subscription exists, ``hold(key:scope:)`` holds every live message of the scope, and
/// ``start(key:scope:floor:cursor:source:)`` then drops those at or below the floor it brings. A replay reads one bounded page at a time, and only while the
/// connection is writable; a new replay of the same key replaces a pending one (its reads in
/// flight are recognized by their generation and ignored), and cancelling drops it. The first
/// page says whether the recovery is complete; one that is not ends there, having sent nothing,
/// unless partial recovery is worth sending (pattern replays).
///
/// `Source` is what the connection needs to read and write a page; the gate only keeps it.
struct RecoveryGate<Source> {
    /// Which live messages a replay gates.
    enum Scope {
        case topic(String)
        case patterns([TopicPattern])

        func covers(_ topic: String) -> Bool {
            switch self {
            case .topic(let name): return name == topic
            case .patterns(let patterns):
                guard let topic = try? Topic(topic) else { return false }
                return patterns.contains { $0.matches(topic) }
            }
        }
    }

    enum Phase: Equatable {
        /// The floor is not known yet: every live message of the scope is held, with its sequence.
        case awaitingFloor
        /// A page read is in flight.
        case reading
        /// A page was written; the next step depends on writability.
        case ready
        /// Paused until the connection is writable again.
        case waiting
        /// The replay is over; only the floor remains, until the first live message past it.
        case released
    }

    struct Replay {
        var generation: UInt64
        var scope: Scope
        var floor: UInt64
        var cursor: UInt64
        var phase: Phase
        var exhausted = false
        var held: [ByteBuffer] = []
        /// While the floor is not known: the live messages held, with their sequences.
        var early: [(sequence: UInt64, bytes: ByteBuffer)] = []
        /// Nil once released (or for a gate that replays nothing).
        var source: Source?
    }

    enum Step {
        case none
        /// Read the page after `cursor`; report it with ``pageRead(key:generation:page:sendsPartial:)``.
        case read(generation: UInt64, cursor: UInt64, source: Source)
        /// Write these held live messages: the replay is over.
        case release([ByteBuffer])
    }

    enum Live: Equatable {
        case deliver
        /// Replayed already, or older than the subscription.
        case drop
        /// Held behind a replay; `heldBytes` grew.
        case hold
    }

    private(set) var replays: [String: Replay] = [:]
    /// Keys of pattern replays; a topic's replay has the topic's name as its key.
    private var patternKeys: [String] = []
    /// Bytes of live messages held across all replays: they count against the backlog.
    private(set) var heldBytes = 0
    private var lastGeneration: UInt64 = 0

    var isEmpty: Bool { self.replays.isEmpty }

    /// Starts holding every live message of `scope` under `key`, replacing whatever `key` had,
    /// until ``start(key:scope:floor:cursor:source:)`` brings the floor; returns the generation
    /// to check with ``awaitsFloor(key:generation:)`` when the floor arrives.
    mutating func hold(key: String, scope: Scope) -> UInt64 {
        self.cancel(key: key)
        if case .patterns = scope { self.patternKeys.append(key) }
        self.lastGeneration += 1
        self.replays[key] = Replay(generation: self.lastGeneration, scope: scope, floor: 0, cursor: 0, phase: .awaitingFloor, source: nil)
        return self.lastGeneration
    }

    /// Whether `key` still holds for the floor of the ``hold(key:scope:)`` that returned `generation`
    /// (not cancelled nor replaced since).
    func awaitsFloor(key: String, generation: UInt64) -> Bool {
        guard let replay = self.replays[key] else { return false }
        return replay.generation == generation && replay.phase == .awaitingFloor
    }

    /// Starts gating `scope` at `floor`. A ``hold(key:scope:)`` of `key` waiting for this floor
    /// keeps what it held past the floor (to release after the replay); anything else `key` had
    /// is replaced. With a `source`, pages are to be read from `cursor` on (call
    /// ``next(key:writable:)``); without, only the floor acts, once held messages are released.
    @discardableResult
    mutating func start(key: String, scope: Scope, floor: UInt64, cursor: UInt64, source: Source?) -> UInt64 {
        var early: [(sequence: UInt64, bytes: ByteBuffer)] = []
        if let replay = self.replays[key], replay.phase == .awaitingFloor { early = replay.early }
        let generation = self.hold(key: key, scope: scope)
        let held = early.filter { $0.sequence > floor }.map(\.bytes)
        self.heldBytes += held.reduce(0) { $0 + $1.readableBytes }
        let phase: Phase = source == nil && held.isEmpty ? .released : .ready
        self.replays[key] = Replay(generation: generation, scope: scope, floor: floor, cursor: cursor, phase: phase, held: held, source: source)
        return generation
    }

    /// Drops `key`'s replay and what it held (unsubscribe; or replaced by a new one).
    mutating func cancel(key: String) {
        guard let old = self.replays.removeValue(forKey: key) else { return }
        self.heldBytes -= old.held.reduce(0) { $0 + $1.readableBytes } + old.early.reduce(0) { $0 + $1.bytes.readableBytes }
        if case .patterns = old.scope { self.patternKeys.removeAll { $0 == key } }
    }

    /// What `key`'s replay does next.
    mutating func next(key: String, writable: Bool) -> Step {
        guard var replay = self.replays[key], replay.phase == .ready || replay.phase == .waiting else { return .none }
        defer { self.replays[key] = replay }
        guard !replay.exhausted, let source = replay.source else {
            replay.phase = .released
            replay.source = nil
            let held = replay.held
            replay.held = []
            self.heldBytes -= held.reduce(0) { $0 + $1.readableBytes }
            return .release(held)
        }
        guard writable else {
            replay.phase = .waiting
            return .none
        }
        replay.phase = .reading
        return .read(generation: replay.generation, cursor: replay.cursor, source: source)
    }

    /// A page was read: moves the cursor on (the next read starts there, or the replay ends
    /// when `exhausted`). False when the read belongs to a replay that was replaced or cancelled
    /// meanwhile, whose page must then not be written.
    mutating func pageRead(key: String, generation: UInt64, cursor: UInt64, exhausted: Bool) -> Bool {
        guard var replay = self.replays[key], replay.generation == generation, replay.phase == .reading else { return false }
        replay.cursor = cursor
        replay.exhausted = exhausted
        replay.phase = .ready
        self.replays[key] = replay
        return true
    }

    /// What to do with a page read for `key`'s replay.
    enum Page: Equatable {
        /// The read belongs to a replay that was replaced or cancelled meanwhile: write nothing.
        case stale
        /// History trimming overtook the replay between two pages: released now, the held live
        /// messages would follow a gap, so the client must reconnect (and recover) instead.
        case overtaken
        /// Write the answer when `recovered` is set (the first page tells whether recovery is
        /// complete), then the page's messages when `messages`; then ask ``next(key:writable:)``.
        case write(recovered: Bool?, messages: Bool)
    }

    /// A page was read: complete or not, and what to write. An incomplete replay ends at once,
    /// having sent nothing, unless it `sendsPartial` (a pattern replay sends what history kept).
    mutating func pageRead(key: String, generation: UInt64, page: ReplayPage, sendsPartial: Bool) -> Page {
        let sends = page.complete != false || sendsPartial
        guard self.pageRead(key: key, generation: generation, cursor: page.cursor, exhausted: page.exhausted || !sends) else { return .stale }
        if page.overtaken { return .overtaken }
        return .write(recovered: page.complete, messages: sends)
    }

    /// Replays paused for writability, to resume with ``next(key:writable:)``.
    var waiting: [String] {
        self.replays.compactMap { $0.value.phase == .waiting ? $0.key : nil }
    }

    /// Where a live history message (`sequence` in the store) of `topic` goes. A topic's own
    /// replay is found by its key; only pattern replays (few) are scanned.
    mutating func live(topic: String, sequence: UInt64, bytes: ByteBuffer) -> Live {
        var holder: String?
        for key in CollectionOfOne(topic) + self.patternKeys {
            guard let replay = self.replays[key], replay.scope.covers(topic) else { continue }
            if replay.phase == .awaitingFloor {
                if holder == nil { holder = key }
                continue
            }
            if sequence <= replay.floor { return .drop }
            if replay.phase == .released {
                // Past the seam: sequences only grow from here on.
                self.cancel(key: key)
            } else if holder == nil {
                holder = key
            }
        }
        guard let holder else { return .deliver }
        if self.replays[holder]!.phase == .awaitingFloor {
            self.replays[holder]!.early.append((sequence, bytes))
        } else {
            self.replays[holder]!.held.append(bytes)
        }
        self.heldBytes += bytes.readableBytes
        return .hold
    }
}

/// One node's stream of committed changes per collection, put in version order without I/O:
/// each version passes once, none is skipped. Changes come from this node's commits and, in a
/// cluster, from other nodes' announcements, which can arrive late, twice, or not at all (a
/// lost connection); a change that is not the next version, or comes without its frame, is a
/// gap, and the caller reads the changes after the last one passed from the store
/// (``filled(_:with:)``).
///
/// A collection is followed from the first change seen, or, when subscribers come first, from
/// the oldest version their reads answered at (``subscribing(_:)``, ``answered(_:at:)``):
/// every subscriber's answer is then at or after the point the stream starts, so ``SyncSeam``
/// joins them without a hole.
public struct SyncOrder<Frame>: Sendable where Frame: Sendable {
    /// What the caller does next.
    public enum Step: Sendable {
        /// Nothing yet.
        case wait
        /// Hand these changes on, in this order.
        case deliver([(version: UInt64, frame: Frame)])
        /// Read the changes of the collection after `since` and call ``filled(_:with:)``; hand on
        /// `first` meanwhile.
        case fill(since: UInt64, first: [(version: UInt64, frame: Frame)])
    }

    private struct Stream: Sendable {
        /// The last version handed on; nil until the subscribers' answers say where to start.
        var last: UInt64?
        /// Subscribers' reads not answered yet, while `last` is nil.
        var reading = 0
        /// The oldest version those reads answered at.
        var start: UInt64?
        /// A read of the store is under way: changes wait for it.
        var filling = false
        /// Announcements were lost while that read ran: read again after it.
        var refill = false
        /// Changes waiting for the start or the read, in arrival order; nil frame: announced only.
        var waiting: [(version: UInt64, frame: Frame?)] = []
    }

    private var streams: [String: Stream] = [:]

    /// No collection followed yet.
    public init() {}

    /// The last version handed on for `collection`, if followed.
    public func last(_ collection: String) -> UInt64? {
        self.streams[collection]?.last
    }

    /// A subscriber is about to read `collection`: if it is not followed yet, changes wait
    /// until every such read has answered (``answered(_:at:)`` or ``abandoned(_:)``), and the
    /// stream starts at the oldest answer.
    public mutating func subscribing(_ collection: String) {
        guard self.streams[collection]?.last == nil else { return }
        self.streams[collection, default: Stream()].reading += 1
    }

    /// A subscriber's read answered at `version`.
    public mutating func answered(_ collection: String, at version: UInt64) -> Step {
        guard var stream = self.streams[collection], stream.last == nil else { return .wait }
        stream.start = min(stream.start ?? version, version)
        return self.readDone(collection, stream)
    }

    /// A subscriber's read failed.
    public mutating func abandoned(_ collection: String) -> Step {
        guard let stream = self.streams[collection], stream.last == nil else { return .wait }
        return self.readDone(collection, stream)
    }

    private mutating func readDone(_ collection: String, _ stream: Stream) -> Step {
        var stream = stream
        stream.reading -= 1
        guard stream.reading == 0 else {
            self.streams[collection] = stream
            return .wait
        }
        guard let start = stream.start else {
            // Nobody read it: it is not followed.
            self.streams[collection] = nil
            return .wait
        }
        stream.last = start
        return self.drain(collection, stream, delivered: [])
    }

    /// A committed change, or its announcement without the frame (nil).
    public mutating func received(_ collection: String, version: UInt64, frame: Frame?) -> Step {
        guard var stream = self.streams[collection] else {
            // First seen, and no subscriber waits on an earlier version: it starts here.
            guard let frame else {
                let since = max(version, 1) - 1
                self.streams[collection] = Stream(last: since, filling: true)
                return .fill(since: since, first: [])
            }
            self.streams[collection] = Stream(last: version)
            return .deliver([(version, frame)])
        }
        stream.waiting.append((version, frame))
        guard stream.last != nil, !stream.filling else {
            self.streams[collection] = stream
            return .wait
        }
        return self.drain(collection, stream, delivered: [])
    }

    /// The changes after the `since` of a fill, read from the store (nil: the read failed, or the
    /// log no longer holds them; the stream then goes on from the newest version heard, and
    /// the caller tells its subscribers to start again).
    public mutating func filled(_ collection: String, with changes: [(version: UInt64, frame: Frame)]?) -> Step {
        guard var stream = self.streams[collection], let last = stream.last else { return .wait }
        stream.filling = false
        var delivered: [(version: UInt64, frame: Frame)] = []
        if let changes {
            var at = last
            for change in changes where change.version == at + 1 {
                delivered.append(change)
                at = change.version
            }
            stream.last = at
        } else {
            stream.last = max(last, stream.waiting.map(\.version).max() ?? last)
            stream.waiting = []
        }
        return self.drain(collection, stream, delivered: delivered)
    }

    /// Every followed collection's last version, to read what was missed while announcements
    /// were not heard; each is then filling until ``filled(_:with:)``. One already filling
    /// reads again once its read answers (that read may have run before what was missed).
    public mutating func resume() -> [(collection: String, since: UInt64)] {
        var fills: [(collection: String, since: UInt64)] = []
        for (collection, stream) in self.streams {
            guard let last = stream.last else { continue }
            if stream.filling {
                self.streams[collection]?.refill = true
            } else {
                self.streams[collection]?.filling = true
                fills.append((collection, last))
            }
        }
        return fills
    }

    /// Hands on the waiting changes that follow `stream.last` in order; stops at a gap (a fill).
    private mutating func drain(_ collection: String, _ stream: Stream, delivered: [(version: UInt64, frame: Frame)]) -> Step {
        var stream = stream
        var delivered = delivered
        var at = stream.last ?? 0
        var rest: [(version: UInt64, frame: Frame?)] = []
        for change in stream.waiting.sorted(by: { $0.version < $1.version }) where change.version > at {
            if rest.isEmpty, change.version == at + 1, let frame = change.frame {
                delivered.append((change.version, frame))
                at = change.version
            } else {
                rest.append(change)
            }
        }
        stream.last = at
        stream.waiting = rest
        stream.filling = !rest.isEmpty || stream.refill
        stream.refill = false
        self.streams[collection] = stream
        if stream.filling { return .fill(since: at, first: delivered) }
        return .deliver(delivered)
    }
}

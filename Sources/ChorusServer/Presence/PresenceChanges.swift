public import ChorusCore
import NIOConcurrencyHelpers
import NIOCore

/// Turns the member-list changes a ``PresenceDirectory`` reports into `presence_diff` frames:
/// batched per topic per tick (``PresenceDiffBatcher``, ``PresenceFlushSchedule``), each diff
/// encoded once and handed to every event loop like a message, where the topic's subscribers
/// get the same bytes.
///
/// No timer while nothing changes: a change schedules the flush that carries it.
public final class PresenceChanges: Sendable {
    /// 100 ms: a member hears at most 10 diffs per second per topic however many join, and a
    /// lone change after a quiet tick goes out at once.
    static let tick = TimeAmount.milliseconds(100)
    /// Joins and leaves per diff frame: a 1,000-join burst in one tick is two frames, and no
    /// frame grows past about 0.5 MB (500 members of at most 1 KiB meta).
    static let maxEntriesPerDiff = 500

    private struct State {
        var batcher = PresenceDiffBatcher()
        var schedule = PresenceFlushSchedule(interval: PresenceChanges.tick)
        /// Loops still writing the last flush's diffs: the next flush waits for them, its
        /// changes batched meanwhile, so diffs never queue faster than the loops write them.
        var loopsWriting = 0
        /// A flush came due while loops were writing.
        var flushWaiting = false
    }

    private let state = NIOLockedValueBox(State())
    private let shards: [LoopShard]

    init(shards: [LoopShard]) {
        self.shards = shards
    }

    /// Records a change of `topic`'s members for the next diff; from any thread.
    public func record(_ change: PresenceChange, topic: Topic) {
        // The flushing loop's clock, which is the one its scheduled tasks run by.
        let loop = self.shards[0].eventLoop
        let now = loop.now
        let flushAt = self.state.withLockedValue { state -> NIODeadline? in
            switch change {
            case .joined(let member): state.batcher.joined(member, topic: topic)
            case .updated(let old, let new): state.batcher.updated(from: old, to: new, topic: topic)
            case .left(let member): state.batcher.left(member, topic: topic)
            }
            return state.schedule.changed(now: now)
        }
        guard let flushAt else { return }
        // The first loop runs the flushes, so diffs leave in the order they were made.
        if flushAt <= now {
            loop.execute { self.flush() }
        } else {
            loop.scheduleTask(deadline: flushAt) { self.flush() }
        }
    }

    private func flush() {
        let diffs = self.state.withLockedValue { state -> [PresenceDiffBatcher.Diff] in
            guard state.loopsWriting == 0 else {
                state.flushWaiting = true
                return []
            }
            state.schedule.flushed(now: self.shards[0].eventLoop.now)
            let diffs = state.batcher.flush(maxEntries: Self.maxEntriesPerDiff)
            if !diffs.isEmpty { state.loopsWriting = self.shards.count }
            return diffs
        }
        guard !diffs.isEmpty else { return }
        let work = diffs.map { diff in
            let diffFrame = ServerFrame.presenceDiff(topic: diff.topic.name, joins: diff.joins, leaves: diff.leaves)
            let frame = WebSocketFrameEncoding.textFrame(allocator: ByteBufferAllocator(), capacity: diffFrame.sizeHint) { buffer in
                diffFrame.write(into: &buffer)
            }
            return LoopShard.Work.frame(diff.topic, frame)
        }
        for shard in self.shards {
            shard.enqueue(contentsOf: work + [.written({ self.loopWrote() })])
        }
    }

    /// A loop has written the last flush's diffs; once all have, a flush that waited runs.
    private func loopWrote() {
        let flushNow = self.state.withLockedValue { state -> Bool in
            state.loopsWriting -= 1
            guard state.loopsWriting == 0, state.flushWaiting else { return false }
            state.flushWaiting = false
            return true
        }
        if flushNow { self.shards[0].eventLoop.execute { self.flush() } }
    }
}

/// The join of one subscriber's snapshot (or change log) and its live stream, without I/O.
///
/// It starts buffering before the snapshot is read; ``answered(at:)`` then hands back the
/// buffered changes after the snapshot's version, and later changes pass through ``received(_:version:)``
/// only when newer than what the subscriber has: none lost, none twice.
public struct SyncSeam<Frame>: Sendable where Frame: Sendable {
    private enum State: Sendable {
        case buffering([(version: UInt64, frame: Frame)])
        case live(after: UInt64)
    }

    private var state = State.buffering([])

    /// A seam buffering, before its snapshot is read.
    public init() {}

    /// Whether the snapshot or changes have been answered (changes now pass straight through).
    public var isLive: Bool {
        if case .live = self.state { return true }
        return false
    }

    /// A committed change: the frame to write now, or nil (kept until the answer, or already had).
    public mutating func received(_ frame: Frame, version: UInt64) -> Frame? {
        switch self.state {
        case .buffering(var buffered):
            buffered.append((version, frame))
            self.state = .buffering(buffered)
            return nil
        case .live(let after):
            guard version > after else { return nil }
            self.state = .live(after: version)
            return frame
        }
    }

    /// The answer (snapshot or changes) reached `version`: the buffered frames after it, in
    /// order, to write right after the answer. Nothing once live already.
    public mutating func answered(at version: UInt64) -> [Frame] {
        guard case .buffering(let buffered) = self.state else { return [] }
        var after = version
        var frames: [Frame] = []
        for change in buffered where change.version > after {
            after = change.version
            frames.append(change.frame)
        }
        self.state = .live(after: after)
        return frames
    }
}

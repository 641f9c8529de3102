/// Where a topic's history stands.
public struct TopicHistoryState: Sendable, Hashable {
    /// Changes when the topic's history is lost or reset; offsets restart with a new epoch.
    public var epoch: String
    /// The offset of the newest message (0: none yet).
    public var lastOffset: UInt64

    /// A topic's history at `lastOffset` in `epoch`.
    public init(epoch: String, lastOffset: UInt64) {
        self.epoch = epoch
        self.lastOffset = lastOffset
    }
}

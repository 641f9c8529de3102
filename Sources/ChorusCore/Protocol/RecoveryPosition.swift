/// Where a `subscribe` asks to resume from (`since`): a topic offset in an epoch, or a time
/// for pattern subscriptions.
public enum RecoveryPosition: Sendable, Hashable {
    /// After `offset` of a topic's history in `epoch`.
    case offset(UInt64, epoch: String)
    /// After a time, in milliseconds since the Unix epoch.
    case timestamp(milliseconds: Int64)
}

/// Where a `subscribe` asks to resume from (`since`): a topic offset in an epoch, or a time
/// for pattern subscriptions.
public enum RecoveryPosition: Sendable, Hashable {
    case offset(UInt64, epoch: String)
    case timestamp(milliseconds: Int64)
}

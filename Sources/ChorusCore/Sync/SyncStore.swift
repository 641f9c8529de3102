/// Where sync collections live: records, each collection's version and change log, and the
/// mutation ids remembered for retries. SQLite on one node (`sync.sqlite` in `data_dir`),
/// PostgreSQL in a cluster.
///
/// A mutation is one transaction: the rules (``SyncRules``) run on the stored record, and the
/// record, the change, the collection version and the mutation id are written together or not
/// at all. Calls never run on an event loop.
public protocol SyncStore: Sendable {
    /// Applies `mutation` to `collection`, or answers the remembered result of an earlier
    /// mutation with the same id (``SyncAck/record`` nil). Throws ``SyncRefusal`` when the rules
    /// refuse it, ``StoreError`` when the store fails.
    func mutate(_ mutation: SyncMutation, in collection: String, limits: SyncLimits, by: String?) async throws -> SyncAck

    /// Every record of `collection` and the version they stand at.
    func snapshot(of collection: String) async throws -> SyncSnapshot

    /// The changes after version `since`, oldest first, with the version they reach; nil when
    /// the log no longer covers `since` (older changes were compacted) or `since` is ahead of
    /// the collection: the client needs a snapshot.
    func changes(of collection: String, since: UInt64) async throws -> (version: UInt64, changes: [SyncChange])?

    /// One record, nil when it does not exist.
    func record(_ id: String, in collection: String) async throws -> SyncRecord?

    /// Sets what hears every committed change of this node. Called once, before the first
    /// mutation; the store calls it after each commit, before the mutation's caller hears its
    /// ack (SQLite: in version order within a collection; PostgreSQL: commits racing on one
    /// node may come out of order, and other nodes' changes are announced apart, so
    /// ``SyncOrder`` puts them in order).
    func onCommit(_ handler: @escaping @Sendable (SyncChange) -> Void)
}

/// A collection's records at one version.
public struct SyncSnapshot: Sendable, Equatable {
    /// The collection's version: every change up to it is in `records`, none after.
    public var version: UInt64
    /// Ordered by id.
    public var records: [SyncRecord]

    /// A snapshot of `records` at `version`.
    public init(version: UInt64, records: [SyncRecord]) {
        self.version = version
        self.records = records
    }
}

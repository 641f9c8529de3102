public import ChorusCore

/// A sync collection (namespaces with `sync: true`, docs/sync.md): ``ChorusClient/collection(_:)``.
///
/// ``records`` are the hub's: its snapshot with every later change applied in version order.
/// After a reconnection the collection resumes from its version (`since`): the hub sends the
/// changes it missed while it still keeps them, a snapshot otherwise. Mutations are sent in
/// order, each with a `mutation_id`; one whose answer was lost with the connection is sent again
/// with the same id, and the hub applies it once. The writer's own change comes before its `ack`,
/// so ``records`` show a mutation once it returns.
public struct ChorusCollection: Sendable {
    /// The client it belongs to.
    public let client: ChorusClient
    /// The collection (a topic name).
    public let name: String

    /// Follows the collection and returns its records once the hub's snapshot (or, resuming,
    /// its changes) arrived; waits for the connection while offline. Throws the hub's refusal.
    @discardableResult
    public func subscribe() async throws -> [SyncRecord] {
        try await self.client.syncSubscribe(self.name)
    }

    /// Stops following it; the records are forgotten (mutations on their way still go).
    public func unsubscribe() async {
        await self.client.syncUnsubscribe(self.name)
    }

    /// The records, ordered by id.
    public var records: [SyncRecord] {
        get async { await self.client.syncMap(self.name).sorted }
    }

    /// The record `id`, if the collection has it.
    public func record(_ id: String) async -> SyncRecord? {
        await self.client.syncMap(self.name).records[id]
    }

    /// The collection version applied; nil before the first snapshot.
    public var version: UInt64? {
        get async { await self.client.syncMap(self.name).version }
    }

    /// Snapshots and changes as they are applied, until the client closes or the stream is dropped.
    public func updates() async -> AsyncStream<CollectionUpdate> {
        await self.client.syncUpdates(self.name)
    }

    /// Inserts a record with `data` (id: `id`, or one the hub assigns) and returns the hub's
    /// `ack`. An existing id is a ``ChorusClientError/Code/conflict``.
    @discardableResult
    public func insert(id: String? = nil, data: some Encodable & Sendable, mutationID: String? = nil) async throws -> SyncAck {
        try await self.mutate(.insert, id: id, data: data, baseVersion: nil, mutationID: mutationID)
    }

    /// Replaces record `id`'s data. With `baseVersion` (the version last seen) a record changed
    /// since is a ``ChorusClientError/Code/conflict`` carrying the hub's record as
    /// ``ChorusClientError/current``; without, the last write wins.
    @discardableResult
    public func update(id: String, data: some Encodable & Sendable, baseVersion: UInt64? = nil, mutationID: String? = nil) async throws -> SyncAck {
        try await self.mutate(.update, id: id, data: data, baseVersion: baseVersion, mutationID: mutationID)
    }

    /// Deletes record `id` (`baseVersion` as for ``update(id:data:baseVersion:mutationID:)``).
    @discardableResult
    public func delete(id: String, baseVersion: UInt64? = nil, mutationID: String? = nil) async throws -> SyncAck {
        try await self.mutate(.delete, id: id, data: String?.none, baseVersion: baseVersion, mutationID: mutationID)
    }

    /// A mutation of any kind. `mutationID` (default: a new random one) makes a retry safe: the
    /// hub answers a mutation id it remembers with its first result, without applying it again.
    public func mutate(
        _ op: SyncOperation, id: String?, data: (some Encodable & Sendable)?, baseVersion: UInt64?, mutationID: String?
    ) async throws -> SyncAck {
        let json = try data.map { try ChorusClient.json($0).bytes }
        let mutation = SyncMutation(
            op: op, recordID: id, data: op == .delete ? nil : json, baseVersion: baseVersion, mutationID: mutationID ?? QueuedPublish.newKey())
        return try await self.client.syncMutate(self.name, mutation)
    }
}

extension ChorusClient {
    /// The sync collection `name` (a topic of a namespace with `sync: true`). Collections are
    /// cheap views on the client's connection.
    public nonisolated func collection(_ name: String) -> ChorusCollection {
        ChorusCollection(client: self, name: name)
    }
}

import ChorusCore

extension ChorusClient {
    /// A collection as the application uses it, kept across connections.
    struct CollectionRecord {
        let topic: Topic
        var map = SyncRecordMap()
        /// ``ChorusCollection/subscribe()`` was called and not undone.
        var wanted = false
        /// The hub answered the subscribe on the current connection.
        var live = false
        var inFlight = false
        var waiters: [CheckedContinuation<[SyncRecord], any Error>] = []
        var streams = StreamSet<CollectionUpdate>()
        /// Mutations not answered yet, oldest first, and whether each went out on this connection.
        var mutations: [(mutation: SyncMutation, sent: Bool, waiter: CheckedContinuation<SyncAck, any Error>)] = []
    }

    func collectionRecord(_ name: String) throws -> CollectionRecord {
        if let record = self.collections[name] { return record }
        do {
            return CollectionRecord(topic: try Topic(name))
        } catch {
            throw ChorusClientError(.badRequest, "a collection is a topic: \(error.description)")
        }
    }

    func syncSubscribe(_ name: String) async throws -> [SyncRecord] {
        var record = try self.collectionRecord(name)
        if record.wanted, record.live { return record.map.sorted }
        record.wanted = true
        self.collections[name] = record
        return try await withCheckedThrowingContinuation { waiter in
            self.collections[name]?.waiters.append(waiter)
            if self.link?.openedAt != nil { self.sendSyncSubscribe(name) }
        }
    }

    func syncUnsubscribe(_ name: String) {
        guard var record = self.collections[name], record.wanted else { return }
        record.wanted = false
        record.live = false
        record.map.reset()
        let waiters = record.waiters
        record.waiters.removeAll()
        self.collections[name] = record
        for waiter in waiters { waiter.resume(throwing: ChorusClientError(.disconnected, "unsubscribed from '\(name)'")) }
        if self.link?.openedAt != nil { self.write(.syncUnsubscribe(record.topic), id: self.newRequestID()) }
    }

    func syncMap(_ name: String) -> SyncRecordMap {
        self.collections[name]?.map ?? SyncRecordMap()
    }

    func syncUpdates(_ name: String) -> AsyncStream<CollectionUpdate> {
        guard var record = try? self.collectionRecord(name) else { return AsyncStream { $0.finish() } }
        let id = self.newStreamID()
        let stream = record.streams.add(id: id) { Task { await self.removeSyncStream(name, id) } }
        self.collections[name] = record
        return stream
    }

    func removeSyncStream(_ name: String, _ id: Int) {
        self.collections[name]?.streams.remove(id)
    }

    func syncMutate(_ name: String, _ mutation: SyncMutation) async throws -> SyncAck {
        let record = try self.collectionRecord(name)
        self.collections[name] = record
        return try await withCheckedThrowingContinuation { waiter in
            self.collections[name]?.mutations.append((mutation, false, waiter))
            self.pumpMutations(name)
        }
    }

    /// Sends the collection's mutations not yet sent on this connection, in order.
    func pumpMutations(_ name: String) {
        guard self.link?.openedAt != nil, let record = self.collections[name] else { return }
        for index in record.mutations.indices where !record.mutations[index].sent {
            let mutation = record.mutations[index].mutation
            self.collections[name]?.mutations[index].sent = true
            let id = self.newRequestID()
            self.pending[id] = .syncMutation(collection: name, mutationID: mutation.mutationID)
            self.write(.syncMutate(record.topic, mutation), id: id, flush: false)
        }
        self.flush()
    }

    func sendSyncSubscribe(_ name: String) {
        guard let record = self.collections[name], record.wanted, !record.inFlight else { return }
        self.collections[name]?.inFlight = true
        let id = self.newRequestID()
        self.pending[id] = .syncSubscribe(collection: name)
        self.write(.syncSubscribe(record.topic, since: record.map.version), id: id)
    }

    func syncSubscribeAnswered(_ name: String, reply: ServerFrame) {
        guard var record = self.collections[name] else { return }
        record.inFlight = false
        guard record.wanted else {
            self.collections[name] = record
            return
        }
        var updates: [CollectionUpdate] = []
        switch reply {
        case .syncSnapshot(_, let snapshot):
            updates = record.map.applySnapshot(snapshot)
        case .syncChanges(_, let version, let changes):
            updates = record.map.applyChanges(changes, version: version)
        default:
            // Refused: the collection is no longer followed.
            record.wanted = false
            let waiters = record.waiters
            record.waiters.removeAll()
            self.collections[name] = record
            let error = ChorusClientError(reply: reply) ?? ChorusClientError(.invalidJSON, "unexpected reply to sync_subscribe")
            for waiter in waiters { waiter.resume(throwing: error) }
            // A resubscription after a reconnection has no one waiting: the refusal goes to the notices.
            if waiters.isEmpty { self.yieldNotice(reply) }
            return
        }
        record.live = true
        let waiters = record.waiters
        record.waiters.removeAll()
        self.collections[name] = record
        self.yield(updates, to: name)
        for waiter in waiters { waiter.resume(returning: record.map.sorted) }
    }

    /// A live `sync_change`.
    func syncChanged(_ change: SyncChange) {
        guard self.collections[change.collection]?.wanted == true,
            let applied = self.collections[change.collection]!.map.apply(change)
        else { return }
        self.yield([.change(applied)], to: change.collection)
    }

    func syncMutationAnswered(_ name: String, mutationID: String, reply: ServerFrame) {
        guard let index = self.collections[name]?.mutations.firstIndex(where: { $0.mutation.mutationID == mutationID }) else { return }
        if case .error(let error) = reply, error.code == .unavailable {
            // The hub is shutting down and did not apply it: the next connection sends it again.
            return
        }
        let entry = self.collections[name]!.mutations.remove(at: index)
        if case .syncAck(let ack) = reply {
            entry.waiter.resume(returning: ack)
            return
        }
        let error = ChorusClientError(reply: reply) ?? ChorusClientError(.invalidJSON, "unexpected reply to sync_mutate")
        if error.code == .conflict, let id = entry.mutation.recordID, self.collections[name]!.wanted {
            self.collections[name]!.map.learn(id: id, record: error.current)
        }
        entry.waiter.resume(throwing: error)
    }

    func yield(_ updates: [CollectionUpdate], to name: String) {
        self.collections[name]?.streams.yield(contentsOf: updates)
    }

    /// The connection opened: subscriptions resume from their version, mutations go (again).
    func syncOpened() {
        for name in self.collections.keys.sorted() {
            self.sendSyncSubscribe(name)
            self.pumpMutations(name)
        }
    }

    /// The connection is gone: what was in flight is sent again on the next one.
    func syncConnectionEnded() {
        for name in self.collections.keys {
            self.collections[name]!.live = false
            self.collections[name]!.inFlight = false
            for index in self.collections[name]!.mutations.indices { self.collections[name]!.mutations[index].sent = false }
        }
    }

    /// The client stopped: waiters and mutations fail, streams finish.
    func syncStopped(_ error: ChorusClientError) {
        let records = self.collections
        self.collections.removeAll()
        for record in records.values {
            for waiter in record.waiters { waiter.resume(throwing: error) }
            for entry in record.mutations { entry.waiter.resume(throwing: error) }
            record.streams.finish()
        }
    }
}

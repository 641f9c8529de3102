import ChorusCore
import Foundation

extension ChorusClient {
    /// A topic's presence as the application uses it, kept across connections.
    struct PresenceRecord {
        let topic: Topic
        var table = PresenceTable()
        /// The meta to join with; nil while not joined (or after a leave).
        var meta: RawJSON?
        /// The meta of the join on its way: an update made meanwhile is sent after its answer.
        var sentMeta: RawJSON?
        /// The hub confirmed the join on the current connection.
        var joined = false
        var waiters: [CheckedContinuation<[PresenceMember], any Error>] = []
        var streams = StreamSet<PresenceChange>()
        /// How the last join or sync asked for the list (again after a reconnection).
        var paging = PresencePaging.whole
        /// Counts the lists that came in pages: a walk stops when a newer list began.
        var listGeneration = 0
    }

    /// `meta` as JSON, which must be an object.
    static func metaJSON(_ meta: some Encodable) throws -> RawJSON {
        let json = try Self.json(meta)
        guard json.kind == .object else { throw ChorusClientError(.badRequest, "presence meta must encode as a JSON object") }
        return json
    }

    func presenceRecord(_ name: String) throws -> PresenceRecord {
        if let record = self.presences[name] { return record }
        do {
            return PresenceRecord(topic: try Topic(name))
        } catch {
            throw ChorusClientError(.badRequest, "invalid presence topic: \(error.description)")
        }
    }

    func presenceJoin(_ name: String, meta: RawJSON, paging: PresencePaging = .whole) async throws -> [PresenceMember] {
        var record = try self.presenceRecord(name)
        record.meta = meta
        record.paging = try paging.checked()
        self.presences[name] = record
        return try await withCheckedThrowingContinuation { waiter in
            self.presences[name]?.waiters.append(waiter)
            if self.link?.openedAt != nil { self.sendPresenceJoin(name) }
        }
    }

    func presenceUpdate(_ name: String, meta: RawJSON) async throws {
        guard self.presences[name]?.meta != nil else {
            throw ChorusClientError(.notJoined, "not a member of '\(name)': join first")
        }
        self.presences[name]?.meta = meta
        // Offline, or the join still on its way: the join (again) carries it.
        guard self.presences[name]?.joined == true, self.link?.openedAt != nil else { return }
        _ = try await self.request(.presenceUpdate(self.presences[name]!.topic, meta: meta))
    }

    func presenceLeave(_ name: String) async throws {
        guard var record = self.presences[name], record.meta != nil else { return }
        record.meta = nil
        record.joined = false
        let waiters = record.waiters
        record.waiters.removeAll()
        self.presences[name] = record
        for waiter in waiters { waiter.resume(throwing: ChorusClientError(.notJoined, "left the presence of '\(name)'")) }
        // A join on its way is answered first (frames are served in order): the leave follows it.
        guard self.link?.openedAt != nil else { return }
        _ = try await self.request(.presenceLeave(record.topic))
    }

    func presenceSync(_ name: String, paging: PresencePaging? = nil) async throws -> [PresenceMember] {
        var record = try self.presenceRecord(name)
        if let paging { record.paging = try paging.checked() }
        // Diffs handled before this answer resumes here are newer than it: kept, and replayed after it.
        record.table.awaitingState += 1
        self.presences[name] = record
        let reply: ServerFrame
        do {
            reply = try await self.request(.presence(record.topic, page: PresencePage(limit: record.paging.limit)))
        } catch {
            if self.presences[name] != nil { self.presences[name]!.table.awaitingState = max(0, self.presences[name]!.table.awaitingState - 1) }
            throw error
        }
        guard case .presenceState = reply, self.presences[name] != nil else {
            throw ChorusClientError(.invalidJSON, "unexpected reply to presence")
        }
        self.applyPresenceState(name, reply)
        return self.presences[name]!.table.members
    }

    /// One page of the hub's list, without changing the one kept here.
    func presencePage(_ name: String, _ page: PresencePage) async throws -> PresenceListPage {
        let record = try self.presenceRecord(name)
        _ = try PresencePaging(limit: page.limit).checked()
        guard case .presenceState(_, let members, let counts, let next) = try await self.request(.presence(record.topic, page: page)) else {
            throw ChorusClientError(.invalidJSON, "unexpected reply to presence")
        }
        return PresenceListPage(members: members, counts: counts, next: next)
    }

    /// A `presence_state` answering a join or a sync: the whole list, or its first page (then
    /// the rest is asked for in the background, unless the paging says not to).
    private func applyPresenceState(_ name: String, _ reply: ServerFrame) {
        guard case .presenceState(_, let members, let counts, let next) = reply, self.presences[name] != nil else { return }
        guard let next else { return self.yield(self.presences[name]!.table.applyState(members), to: name) }
        self.presences[name]!.listGeneration += 1
        self.yield(self.presences[name]!.table.applyPage(members, counts: counts, more: true, first: true), to: name)
        if self.presences[name]!.paging.walk {
            let generation = self.presences[name]!.listGeneration
            Task { await self.walkPresence(name, after: next, generation: generation) }
        }
    }

    /// Asks for the pages after `cursor` one after the other, applying each, until the last (or
    /// a newer list began, or the request failed: the next connection asks again).
    private func walkPresence(_ name: String, after cursor: PresenceCursor, generation: Int) async {
        var cursor = cursor
        while let record = self.presences[name], record.listGeneration == generation {
            self.presences[name]!.table.awaitingState += 1
            let reply = try? await self.request(.presence(record.topic, page: PresencePage(limit: record.paging.pageSize, after: cursor)))
            guard self.presences[name] != nil else { return }
            guard case .presenceState(_, let members, let counts, let next)? = reply, self.presences[name]!.listGeneration == generation else {
                self.presences[name]!.table.awaitingState = max(0, self.presences[name]!.table.awaitingState - 1)
                return
            }
            self.yield(self.presences[name]!.table.applyPage(members, counts: counts, more: next != nil, first: false), to: name)
            guard let next else { return }
            cursor = next
        }
    }

    func presenceStats(_ name: String) async throws -> PresenceCounts {
        let record = try self.presenceRecord(name)
        guard case .presenceStats(_, let counts) = try await self.request(.presenceStats(record.topic)) else {
            throw ChorusClientError(.invalidJSON, "unexpected reply to presence_stats")
        }
        return counts
    }

    func presenceTable(_ name: String) -> PresenceTable {
        self.presences[name]?.table ?? PresenceTable()
    }

    func presenceChanges(_ name: String) -> AsyncStream<PresenceChange> {
        guard var record = try? self.presenceRecord(name) else { return AsyncStream { $0.finish() } }
        let id = self.newStreamID()
        let stream = record.streams.add(id: id) { Task { await self.removePresenceStream(name, id) } }
        self.presences[name] = record
        return stream
    }

    func removePresenceStream(_ name: String, _ id: Int) {
        self.presences[name]?.streams.remove(id)
    }

    func sendPresenceJoin(_ name: String) {
        guard let record = self.presences[name], let meta = record.meta else { return }
        self.presences[name]?.table.awaitingState += 1
        self.presences[name]?.sentMeta = meta
        let id = self.newRequestID()
        self.pending[id] = .presenceJoin(topic: name)
        self.write(.presenceJoin(record.topic, meta: meta, limit: record.paging.limit), id: id)
    }

    /// The answer to a join: the list, or a refusal that ends the membership.
    func presenceJoinAnswered(_ name: String, reply: ServerFrame) {
        guard var record = self.presences[name] else { return }
        let waiters = record.waiters
        if case .presenceState = reply {
            record.joined = record.meta != nil
            if record.joined { record.waiters.removeAll() }
            self.presences[name] = record
            self.applyPresenceState(name, reply)
            record = self.presences[name]!
            if record.joined, let meta = record.meta, meta != record.sentMeta {
                // Updated while the join was on its way: the hub has the join's meta, not this one.
                self.presences[name]?.sentMeta = meta
                self.write(.presenceUpdate(record.topic, meta: meta), id: self.newRequestID())
            }
            if record.joined { for waiter in waiters { waiter.resume(returning: record.table.members) } }
            return
        }
        record.table.awaitingState = max(0, record.table.awaitingState - 1)
        record.meta = nil
        record.joined = false
        record.waiters.removeAll()
        self.presences[name] = record
        let error = ChorusClientError(reply: reply) ?? ChorusClientError(.invalidJSON, "unexpected reply to presence_join")
        for waiter in waiters { waiter.resume(throwing: error) }
        // A rejoin after a reconnection has no one waiting: the refusal goes to the notices.
        if waiters.isEmpty { self.yieldNotice(reply) }
    }

    /// A `presence_diff` of a topic the client follows.
    func presenceDiff(_ name: String, joins: [PresenceMember], leaves: [PresenceMember]) {
        guard self.presences[name] != nil else { return }
        let changes = self.presences[name]!.table.applyDiff(joins: joins, leaves: leaves)
        self.yield(changes, to: name)
    }

    func yield(_ changes: [PresenceChange], to name: String) {
        self.presences[name]?.streams.yield(contentsOf: changes)
    }

    /// The connection is gone: joins are sent again on the next one.
    func presenceConnectionEnded() {
        for name in self.presences.keys {
            self.presences[name]!.joined = false
            self.presences[name]!.table.awaitingState = 0
        }
    }

    /// The client stopped: waiters fail, streams finish.
    func presenceStopped(_ error: ChorusClientError) {
        let records = self.presences
        self.presences.removeAll()
        for record in records.values {
            for waiter in record.waiters { waiter.resume(throwing: error) }
            record.streams.finish()
        }
    }
}

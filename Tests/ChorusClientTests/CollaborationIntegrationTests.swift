import ChorusCore
import Foundation
import NIOCore
import Testing

@testable import ChorusClient

/// Presence, signalling and sync collections of ChorusClient against real `chorus serve` processes.
@Suite(.serialized) struct CollaborationIntegrationTests {
    static let namespaces = [
        "--namespaces", #"{"room": {"presence": true}, "tasks": {"sync": true}, "few": {"sync": true, "sync_changes_kept": 2}}"#,
    ]

    static func client(_ hub: HubProcess) async throws -> ChorusClient {
        let client = try ChorusClient(url: hub.url, configuration: HubIntegrationTests.configuration())
        await client.connect()
        try await client.waitUntilConnected()
        return client
    }

    /// Runs `body` with a hub of ``namespaces`` and two clients connected to it, Ada and Bob;
    /// closes them and stops the hub after it.
    static func withAdaAndBob<Result>(_ body: (ChorusClient, ChorusClient) async throws -> Result) async throws -> Result {
        let hub = try await HubProcess(Self.namespaces).start()
        let ada = try await Self.client(hub)
        let bob = try await Self.client(hub)
        let result = try await body(ada, bob)
        await ada.close()
        await bob.close()
        hub.stop()
        return result
    }

    /// The code of the error `body` throws; nil when it does not throw.
    static func refusal(_ body: () async throws -> some Any) async -> ChorusClientError.Code? {
        do {
            _ = try await body()
            return nil
        } catch {
            return (error as? ChorusClientError)?.code ?? ChorusClientError.Code(rawValue: "\(error)")
        }
    }

    struct Meta: Codable, Sendable, Equatable { var name: String; var status: String = "online" }

    static func meta(_ member: PresenceMember) throws -> Meta {
        try JSONDecoder().decode(Meta.self, from: Data(member.meta.readableBytesView))
    }

    // MARK: - Presence

    @Test func twoClientsSeeEachOthersPresenceUpdatesAndALeaveOnClose() async throws {
        try await Self.withAdaAndBob { ada, bob in
            let adaClient = try #require(await ada.session?.client)
            let bobClient = try #require(await bob.session?.client)
            let room = ada.channel("room:lobby").presence
            // One stream per step: the hub batches a tick's changes, and a join and leave within one
            // tick cancel out, so each step waits for Ada to see the last.
            let joins = await room.changes()
            #expect(try await room.join(meta: Meta(name: "Ada")).map(\.client) == [adaClient])
            let bobsView = try await bob.channel("room:lobby").presence.join(meta: Meta(name: "Bob"))
            #expect(bobsView.map(\.client) == [adaClient, bobClient])
            var seen = try await read(joins) { $0.contains { if case .join(let m) = $0 { m.client == bobClient } else { false } } }
            let updates = await room.changes()
            try await bob.channel("room:lobby").presence.update(meta: Meta(name: "Bob", status: "away"))
            seen += try await read(updates) { $0.contains { if case .update = $0 { true } else { false } } }
            let leaves = await room.changes()
            await bob.close()
            seen += try await read(leaves) { $0.contains { if case .leave(let m) = $0 { m.client == bobClient } else { false } } }
            let summary = try seen.map { change -> String in
                switch change {
                case .join(let member): "join \(try Self.meta(member).name)"
                case .update(let member, _): "update \(try Self.meta(member).status)"
                case .leave(let member): "leave \(try Self.meta(member).name)"
                }
            }
            #expect(summary == ["join Ada", "join Bob", "update away", "leave Bob"])
            #expect(await room.list.map(\.client) == [adaClient])
            #expect(await room.members.map(\.key) == [adaClient])
        }
    }

    @Test func aMemberJoinsAgainAfterAReconnect() async throws {
        try await Self.withAdaAndBob { ada, bob in
            try await ada.channel("room:rejoin").presence.join(meta: Meta(name: "Ada"))
            let bobsChanges = await bob.channel("room:rejoin").presence.changes()
            try await bob.channel("room:rejoin").presence.join(meta: Meta(name: "Bob"))
            let firstClient = try #require(await ada.session?.client)
            await ada.dropConnection()
            // The hub sees the old connection leave and the new one join with the same meta. The two
            // happen on different connections, so they may come in one diff or in two, either order.
            _ = try await read(bobsChanges) { seen in
                seen.contains { if case .join(let m) = $0 { m.client != firstClient && (try? Self.meta(m).name) == "Ada" } else { false } }
                    && seen.contains { if case .leave(let m) = $0 { m.client == firstClient } else { false } }
            }
            let secondClient = try #require(await ada.session?.client)
            #expect(secondClient != firstClient)
            #expect(Set(await bob.channel("room:rejoin").presence.list.map(\.client)) == [secondClient, try #require(await bob.session?.client)])
        }
    }

    @Test func aJoinWithALimitListsAPageAndTheRestComesInPages() async throws {
        let hub = try await HubProcess(Self.namespaces).start()
        var others: [ChorusClient] = []
        for index in 0..<5 {
            let other = try await Self.client(hub)
            try await other.channel("room:paged").presence.join(meta: Meta(name: "M\(index)"))
            others.append(other)
        }
        let me = try await Self.client(hub)
        let room = me.channel("room:paged").presence
        let first = try await room.join(meta: Meta(name: "Me"), paging: PresencePaging(limit: 2, pageSize: 2))
        #expect(first.count <= 2)
        // The rest comes in pages of 2 in the background, then the list is the room, oldest first.
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let complete = await room.isComplete
            let listed = await room.list.count
            if complete && listed == 6 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        var expected: [String] = []
        for other in others { expected.append(try #require(await other.session?.client)) }
        expected.append(try #require(await me.session?.client))
        #expect(await room.list.map(\.client) == expected)
        #expect(await room.counts == PresenceCounts(clients: 6, users: 6))
        // One page, asked for by hand, leaves the list alone.
        let page = try await room.page(limit: 4)
        #expect(page.members.map(\.client) == Array(expected.prefix(4)) && page.counts.clients == 6 && page.next != nil)
        let rest = try await room.page(limit: 4, after: page.next)
        #expect(rest.members.map(\.client) == Array(expected.suffix(2)) && rest.next == nil)
        #expect(await Self.refusal { try await room.page(limit: 5_000) } == .badRequest)
        for other in others { await other.close() }
        await me.close()
        hub.stop()
    }

    @Test func aWatcherAsksForTheListAndTheCounts() async throws {
        try await Self.withAdaAndBob { ada, bob in
            try await ada.channel("room:watched").presence.join(meta: Meta(name: "Ada"))
            // Bob is not a member: he may still read the list and the counts.
            let watched = bob.channel("room:watched").presence
            #expect(try await watched.sync().map(\.client) == [try #require(await ada.session?.client)])
            #expect(await watched.list.count == 1)
            let counts = try await watched.stats()
            #expect(counts.clients == 1 && counts.users == 1)
            #expect(await Self.refusal { try await bob.channel("tasks:x").presence.stats() } == ChorusClientError.Code(.forbidden))
        }
    }

    @Test func presenceRefusalsAreClearErrors() async throws {
        let hub = try await HubProcess(Self.namespaces).start()
        let ada = try await Self.client(hub)
        // A namespace without presence: forbidden; an update before joining: not_joined.
        #expect(await Self.refusal { try await ada.channel("tasks:x").presence.join() } == ChorusClientError.Code(.forbidden))
        #expect(await Self.refusal { try await ada.channel("room:a").presence.update(meta: Meta(name: "x")) } == .notJoined)
        #expect(await Self.refusal { try await ada.channel("room:a").presence.join(meta: ["not an object"]) } == .badRequest)
        await ada.close()
        hub.stop()
    }

    // MARK: - Signalling

    @Test func signalsArriveInOrderAndAnAbsentTargetIsNotFound() async throws {
        try await Self.withAdaAndBob { ada, bob in
            try await ada.channel("room:call").presence.join(meta: Meta(name: "Ada"))
            try await bob.channel("room:call").presence.join(meta: Meta(name: "Bob"))
            let bobClient = try #require(await bob.session?.client)
            let signals = await bob.signals()
            struct Candidate: Codable, Sendable { var n: Int }
            for n in 0..<200 { try await ada.signal(to: bobClient, data: Candidate(n: n)) }
            let received = try await read(signals) { $0.count == 200 }
            #expect(try received.map { try $0.decode(Candidate.self).n } == Array(0..<200))
            let adaClient = try #require(await ada.session?.client)
            #expect(received.allSatisfy { $0.from.client == adaClient })
            #expect(await Self.refusal { try await ada.signal(to: "nobody", data: Candidate(n: 0)) } == .notFound)
            try await bob.channel("room:call").presence.leave()
            #expect(await Self.refusal { try await ada.signal(to: bobClient, data: Candidate(n: 0)) } == .notFound)
        }
    }

    // MARK: - Sync collections

    struct Item: Codable, Sendable, Equatable { var title: String; var done = false }

    static func titles(_ records: [SyncRecord]) -> [String: String] {
        Dictionary(uniqueKeysWithValues: records.map { ($0.id, (try? JSONDecoder().decode(Item.self, from: Data($0.data.readableBytesView)).title) ?? "?") })
    }

    @Test func twoClientsConvergeOnACollection() async throws {
        try await Self.withAdaAndBob { ada, bob in
            let adas = ada.collection("tasks:board")
            let bobs = bob.collection("tasks:board")
            #expect(try await adas.subscribe().isEmpty)
            try await bobs.subscribe()
            let adaUpdates = await adas.updates()
            try await adas.insert(id: "a1", data: Item(title: "from Ada"))
            let ack = try await bobs.insert(id: "b1", data: Item(title: "from Bob"))
            try await bobs.update(id: "a1", data: Item(title: "Ada's, edited by Bob"))
            let last = try await adas.delete(id: "b1")
            #expect(ack.recordID == "b1" && last.version == 4)
            // The writer's own change comes before its ack: Ada's records are current now.
            #expect(await adas.version == 4)
            _ = try await read(adaUpdates) { $0.count == 4 }
            let expected = ["a1": "Ada's, edited by Bob"]
            #expect(Self.titles(await adas.records) == expected)
            // Bob converges on the same records once his stream has the last version.
            let bobUpdates = await bobs.updates()
            if await bobs.version != 4 {
                _ = try await read(bobUpdates) { $0.contains { if case .change(let c) = $0 { c.version == 4 } else { false } } }
            }
            #expect(await bobs.version == 4)
            #expect(Self.titles(await bobs.records) == expected)
        }
    }

    @Test func aStaleBaseVersionIsAConflictWithTheCurrentRecord() async throws {
        let hub = try await HubProcess(Self.namespaces).start()
        let ada = try await Self.client(hub)
        let tasks = ada.collection("tasks:conflict")
        try await tasks.subscribe()
        let first = try await tasks.insert(id: "t", data: Item(title: "one"))
        let second = try await tasks.update(id: "t", data: Item(title: "two"), baseVersion: first.version)
        do {
            try await tasks.update(id: "t", data: Item(title: "stale"), baseVersion: first.version)
            Issue.record("a stale base_version was applied")
        } catch let error as ChorusClientError {
            #expect(error.code == .conflict)
            #expect(error.current?.version == second.version)
            #expect(Self.titles([try #require(error.current)]) == ["t": "two"])
        }
        #expect(Self.titles(await tasks.records) == ["t": "two"])
        await ada.close()
        hub.stop()
    }

    @Test func aMutationRetriedWithTheSameIDIsAppliedOnce() async throws {
        let hub = try await HubProcess(Self.namespaces).start()
        let ada = try await Self.client(hub)
        let tasks = ada.collection("tasks:retry")
        try await tasks.subscribe()
        let first = try await tasks.insert(id: "t", data: Item(title: "once"), mutationID: "m-1")
        let again = try await tasks.insert(id: "t", data: Item(title: "once"), mutationID: "m-1")
        #expect(again == first)
        // A mutation in flight when the connection drops goes again, with its id, on the next one.
        let update = Task { try await tasks.update(id: "t", data: Item(title: "twice?"), mutationID: "m-2") }
        await ada.dropConnection()
        let acked = try await update.value
        #expect(acked.version == first.version + 1)
        try await ada.waitUntilConnected()
        #expect(try await tasks.insert(id: "u", data: Item(title: "next")).version == first.version + 2)
        await ada.close()
        hub.stop()
    }

    /// A collection followed by Ada resumes after her connection is lost while Bob writes.
    static func resume(_ name: String, writes: Int) async throws -> (updates: [CollectionUpdate], converged: Bool) {
        try await Self.withAdaAndBob { ada, bob in
            let adas = ada.collection(name)
            try await adas.subscribe()
            try await bob.collection(name).insert(id: "r", data: Item(title: "0"))
            let updates = await adas.updates()
            if await adas.version != 1 { _ = try await read(updates) { _ in true } }
            let states = await ada.stateUpdates()
            await ada.holdReconnect(true)
            await ada.dropConnection()
            _ = try await read(states) { $0.last == .reconnecting }
            var last: SyncAck?
            for n in 1...writes { last = try await bob.collection(name).update(id: "r", data: Item(title: String(n))) }
            let resumed = await adas.updates()
            await ada.holdReconnect(false)
            let target = last!.version
            let seen = try await read(resumed) { seen in
                seen.contains { if case .change(let c) = $0 { c.version == target } else if case .snapshot(let v) = $0 { v == target } else { false } }
            }
            let converged = Self.titles(await adas.records) == ["r": String(writes)]
            return (seen, converged)
        }
    }

    @Test func aResumeWithinTheKeptChangesGetsTheChanges() async throws {
        let (updates, converged) = try await Self.resume("tasks:resume", writes: 3)
        #expect(converged)
        #expect(!updates.contains { if case .snapshot = $0 { true } else { false } })
        #expect(updates.count == 3)
    }

    @Test func aResumePastTheKeptChangesGetsASnapshot() async throws {
        // `few` keeps 2 changes: 5 missed ones are answered with a snapshot.
        let (updates, converged) = try await Self.resume("few:resume", writes: 5)
        #expect(converged)
        #expect(updates.first == .snapshot(version: 6))
    }
}

import ChorusCluster
import ChorusCore
import ChorusRedis
import ChorusTestSupport
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import ChorusServer

/// Three nodes' ``RedisPresenceDirectory`` on one real Redis (each in a ``Hub``): one member list
/// per topic, the member limit across nodes, the sweep of a dead node's members (also from two
/// nodes at once), and signals routed to the node holding their target.
@Suite(.timeLimit(.minutes(1))) struct RedisPresenceDirectoryTests {
    final class Nodes: Sendable {
        static let ids = ["a", "b", "c"]
        let server: RedisTestServer
        let client: RedisClient
        let directories: [RedisPresenceDirectory]
        let hubs: [Hub]
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        /// Signals each node was handed: (client, frame).
        let relayed = NIOLockedValueBox<[[(String, ByteBuffer)]]>([[], [], []])

        init() throws {
            let server = try RedisTestServer()
            let configuration = try RedisConfiguration(url: server.url)
            let client = RedisClient(configuration: configuration)
            var hubConfiguration = HubConfiguration()
            hubConfiguration.allowAnonymous = true
            hubConfiguration.namespaces = ["room": NamespaceOptions(presence: true)]
            let made = Mutex<[RedisPresenceDirectory]>([])
            let relayed = self.relayed
            self.hubs = try Self.ids.indices.map { index in
                try Hub(
                    configuration: hubConfiguration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
                    authenticator: Authenticator(configuration: hubConfiguration),
                    presenceDirectory: { changes in
                        // Swept by hand in these tests.
                        let directory = RedisPresenceDirectory(
                            node: Self.ids[index], client: client, configuration: configuration, keys: RedisPresenceKeys(), namespaces: ["room"], changes: changes,
                            eventLoopGroup: MultiThreadedEventLoopGroup.singleton, sweepInterval: .seconds(3600), logger: .init(label: "test")
                        ) { target, frame in
                            relayed.withLockedValue { $0[index].append((target, frame)) }
                        }
                        made.withLock { $0.append(directory) }
                        return directory
                    }
                )
            }
            self.directories = made.withLock { $0 }
            self.server = server
            self.client = client
        }

        func run(_ body: () async throws -> Void) async throws {
            let client = self.client, directories = self.directories
            try await self.server.run(
                [{ try await client.run() }] + directories.map { directory in { @Sendable in try await directory.run() } },
                connected: { client.isConnected && directories.allSatisfy(\.isConnected) }, body
            )
        }

        /// Node `index`'s heartbeat entry, as ``RedisNodeDirectory`` writes it.
        func beat(_ index: Int) async throws {
            _ = try await self.client.send(RESPCommand("HSET", [.string("chorus:node:\(Self.ids[index])"), "connections", "0"]))
        }

        func join(_ index: Int, _ client: String, _ topic: String, user: String? = nil, max: Int = 10_000) async throws -> PresenceSnapshot {
            let member = PresenceMember(client: client, user: user, meta: ByteBuffer(string: #"{"n":"\#(client)"}"#), joinedAt: WallClock.milliseconds())
            return try await self.directories[index].join(member, topic: try Topic(topic), maxMembers: max, on: self.loop).get()
        }

        func members(_ index: Int, _ topic: String) async throws -> [String] {
            try await self.directories[index].members(of: try Topic(topic), on: self.loop).get().members.map(\.client)
        }

        /// Records the announcements of namespace `room` while `body` runs.
        func announcements(_ body: () async throws -> Void) async throws -> [RedisPresenceWireFormat.Announcement] {
            let heard = Mutex<[RedisPresenceWireFormat.Announcement]>([])
            let subscriber = RedisSubscriber(configuration: try RedisConfiguration(url: self.server.url)) { _, payload in
                if let announcement = RedisPresenceWireFormat.announcement(payload) { heard.withLock { $0.append(announcement.change) } }
            }
            subscriber.subscribe(["chorus:pr:room"])
            let running = Task { try await subscriber.run() }
            while !subscriber.isConnected { try await Task.sleep(for: .milliseconds(10)) }
            try await body()
            // A PING after the scripts: everything they published has been delivered.
            _ = try await self.client.send(RESPCommand("PUBLISH", ["chorus:pr:room", "end"]))
            try await Task.sleep(for: .milliseconds(200))
            running.cancel()
            return heard.withLock { $0 }
        }
    }

    @Test func membersOnEveryNodeAreOneListAndTheLimitHoldsAcrossNodes() async throws {
        let nodes = try Nodes()
        try await nodes.run {
            _ = try await nodes.join(0, "a-1", "room:one", user: "ann")
            let state = try await nodes.join(1, "b-1", "room:one", user: "bob")
            #expect(Set(state.members.map(\.client)) == ["a-1", "b-1"] && state.counts == PresenceCounts(clients: 2, users: 2))
            #expect(Set(try await nodes.members(2, "room:one")) == ["a-1", "b-1"])
            // Joins raced from three nodes at a limit of 3: exactly three stand.
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<12 {
                    group.addTask { (try? await nodes.join(index % 3, "r-\(index)", "room:full", max: 3)) != nil }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 3)
            #expect(try await nodes.directories[0].counts(of: try Topic("room:full"), on: nodes.loop).get().clients == 3)
            // An update keeps `joined_at`; a leave on one node is seen on the others.
            let before = try await nodes.directories[2].members(of: try Topic("room:one"), on: nodes.loop).get().members.first { $0.client == "b-1" }
            #expect(try await nodes.directories[1].update(client: "b-1", topic: try Topic("room:one"), meta: ByteBuffer(string: #"{"s":"away"}"#), on: nodes.loop).get())
            let after = try await nodes.directories[2].members(of: try Topic("room:one"), on: nodes.loop).get().members.first { $0.client == "b-1" }
            #expect(after?.joinedAt == before?.joinedAt && after.map { String(buffer: $0.meta) } == #"{"s":"away"}"#)
            #expect(try await !nodes.directories[0].update(client: "b-1", topic: try Topic("room:one"), meta: ByteBuffer(string: "{}"), on: nodes.loop).get(), "not a client of node a")
            #expect(try await nodes.directories[1].leave(client: "b-1", topic: try Topic("room:one"), on: nodes.loop).get())
            #expect(try await nodes.members(0, "room:one") == ["a-1"])
        }
    }

    @Test func aSweepRemovesOnlyADeadNodesMembersAnnouncingEachLeaveOnce() async throws {
        let nodes = try Nodes()
        try await nodes.run {
            try await nodes.beat(0)
            try await nodes.beat(1)
            // Node c never beats: it is dead to the sweep.
            _ = try await nodes.join(0, "a-1", "room:x")
            for index in 0..<600 { _ = try await nodes.join(2, "c-\(index)", index % 2 == 0 ? "room:x" : "room:y.\(index % 10)") }
            let heard = try await nodes.announcements {
                // Two live nodes sweep at once, each in batches of 500: every member goes once.
                async let first: Void = nodes.directories[0].sweep()
                async let second: Void = nodes.directories[1].sweep()
                _ = try await (first, second)
            }
            let leaves = heard.compactMap { announcement -> String? in
                guard case .left(let record) = announcement, record.node == "c" else { return nil }
                return record.member.client
            }
            #expect(leaves.count == 600 && Set(leaves).count == 600)
            #expect(try await nodes.members(1, "room:x") == ["a-1"])
            #expect(try await nodes.members(1, "room:y.1").isEmpty)
            // The page index and the users went with them.
            #expect(try await nodes.client.send(RESPCommand("ZCARD", ["chorus:po:room:x"])).int == 1)
            #expect(try await nodes.client.send(RESPCommand("EXISTS", ["chorus:po:room:y.1", "chorus:pu:room:y.1"])).int == 0)
            #expect(try await nodes.directories[2].counts(of: try Topic("room:x"), on: nodes.loop).get() == PresenceCounts(clients: 1, users: 1))
            #expect(try await nodes.client.send(RESPCommand("SMEMBERS", ["chorus:pnodes"])).array?.compactMap(\.string) == ["a"])
        }
    }

    @Test func pagesAcrossNodesReadOnlyThePageAndSurviveJoinsAndLeavesBetweenThem() async throws {
        let nodes = try Nodes()
        try await nodes.run {
            let topic = try Topic("room:paged")
            for index in 0..<30 { _ = try await nodes.join(index % 3, "m-\(index)", "room:paged", user: "u\(index % 7)") }
            let whole = try await nodes.members(0, "room:paged")
            #expect(whole.count == 30)
            // A join with a page: the counts are the topic's, the members the oldest few.
            let joined = try await nodes.directories[1].join(
                PresenceMember(client: "late", user: "u0", meta: ByteBuffer(string: "{}"), joinedAt: WallClock.milliseconds()), topic: topic, maxMembers: 100,
                page: PresencePage(limit: 4), on: nodes.loop
            ).get()
            #expect(joined.members.map(\.client) == Array(whole.prefix(4)))
            #expect(joined.counts == PresenceCounts(clients: 31, users: 7) && joined.next == PresenceCursor(after: joined.members[3]))
            let counted = try await nodes.directories[2].members(of: topic, page: PresencePage(limit: 0), on: nodes.loop).get()
            #expect(counted.members.isEmpty && counted.next == nil && counted.counts == PresenceCounts(clients: 31, users: 7))
            // Walk pages of 4 from node c while members join and leave on a and b between pages.
            var seen: [String] = []
            var left: Set<String> = []
            var page = try await nodes.directories[2].members(of: topic, page: PresencePage(limit: 4), on: nodes.loop).get()
            var step = 0
            while true {
                seen += page.members.map(\.client)
                guard let next = page.next else { break }
                step += 1
                _ = try await nodes.join(step % 2, "new-\(step)", "room:paged")
                let leaving = "m-\((step * 7) % 30)"
                // Left on the node it joined on (m-i joined on node i % 3).
                let holder = ((step * 7) % 30) % 3
                if try await nodes.directories[holder].leave(client: leaving, topic: topic, on: nodes.loop).get() { left.insert(leaving) }
                page = try await nodes.directories[2].members(of: topic, page: PresencePage(limit: 4, after: next), on: nodes.loop).get()
            }
            #expect(Set(seen).count == seen.count, "nobody twice")
            #expect(Set(whole + ["late"]).subtracting(left).isSubset(of: Set(seen)), "everyone present throughout")
            // The pages, read without changes, are the whole list.
            var again: [String] = []
            var cursor: PresenceCursor?
            repeat {
                let read = try await nodes.directories[0].members(of: topic, page: PresencePage(limit: 5, after: cursor), on: nodes.loop).get()
                again += read.members.map(\.client)
                cursor = read.next
            } while cursor != nil
            let now = try await nodes.members(1, "room:paged")
            #expect(again == now)
        }
    }

    @Test func membersWrittenWithoutThePageIndexAreIndexedWhenAPageIsRead() async throws {
        let nodes = try Nodes()
        try await nodes.run {
            for index in 0..<6 { _ = try await nodes.join(0, "m-\(index)", "room:old", user: index < 3 ? "ann" : nil) }
            // As a hub without pages left them: members only.
            _ = try await nodes.client.send(RESPCommand("DEL", ["chorus:po:room:old", "chorus:pu:room:old"]))
            let page = try await nodes.directories[1].members(of: try Topic("room:old"), page: PresencePage(limit: 4), on: nodes.loop).get()
            let whole = try await nodes.members(2, "room:old")
            #expect(page.members.map(\.client) == Array(whole.prefix(4)))
            #expect(page.counts == PresenceCounts(clients: 6, users: 4))
            #expect(try await nodes.client.send(RESPCommand("ZCARD", ["chorus:po:room:old"])).int == 6)
        }
    }

    @Test func aLiveNodeSweptByMistakeRegistersItsMembersAgain() async throws {
        let nodes = try Nodes()
        try await nodes.run {
            try await nodes.beat(1)
            _ = try await nodes.join(0, "a-1", "room:z")
            // Node a's heartbeat is missing (its main connection was away): b sweeps its members.
            try await nodes.directories[1].sweep()
            #expect(try await nodes.members(1, "room:z").isEmpty)
            try await nodes.directories[0].registerAgainIfSwept()
            while try await nodes.members(1, "room:z") != ["a-1"] { try await Task.sleep(for: .milliseconds(10)) }
            // Listed again: nothing more to do.
            try await nodes.directories[0].registerAgainIfSwept()
            #expect(try await nodes.members(2, "room:z") == ["a-1"])
        }
    }

    @Test func signalsGoToTheNodeHoldingTheirTarget() async throws {
        let nodes = try Nodes()
        try await nodes.run {
            _ = try await nodes.join(0, "a-1", "room:s")
            _ = try await nodes.join(0, "a-2", "room:s")
            _ = try await nodes.join(1, "b-1", "room:s")
            _ = try await nodes.join(1, "b-2", "room:other")
            let frame = ByteBuffer(string: "frame")
            let a = nodes.directories[0], b = nodes.directories[1]
            #expect(try await a.routeSignal(frame, from: "a-1", to: "b-1", on: nodes.loop).get() == .relayed)
            #expect(try await a.routeSignal(frame, from: "a-1", to: "a-2", on: nodes.loop).get() == .local)
            #expect(try await a.routeSignal(frame, from: "a-1", to: "b-2", on: nodes.loop).get() == .notFound, "no shared topic")
            #expect(try await b.routeSignal(frame, from: "b-2", to: "a-1", on: nodes.loop).get() == .notFound, "no shared topic")
            #expect(try await a.routeSignal(frame, from: "a-1", to: "nobody", on: nodes.loop).get() == .notFound)
            #expect(try await b.sharedTopic(of: "b-1", and: "a-2", on: nodes.loop).get() == (try Topic("room:s")))
            while nodes.relayed.withLockedValue({ $0[1].isEmpty }) { try await Task.sleep(for: .milliseconds(10)) }
            let relayed = nodes.relayed.withLockedValue { $0 }
            #expect(relayed[1].map(\.0) == ["b-1"] && relayed[1].first?.1 == frame && relayed[0].isEmpty)
            // A member of a node that is gone (nobody reads its channel) is not found.
            _ = try await nodes.join(2, "c-1", "room:s")
            _ = try await nodes.client.send(RESPCommand("HSET", ["chorus:pm:room:s", "x-1", .bytes(RedisPresenceWireFormat.value(of: PresenceMember(client: "x-1", user: nil, meta: ByteBuffer(string: "{}"), joinedAt: 1), node: "x"))]))
            #expect(try await a.routeSignal(frame, from: "a-1", to: "x-1", on: nodes.loop).get() == .notFound)
            #expect(try await a.routeSignal(frame, from: "a-1", to: "c-1", on: nodes.loop).get() == .relayed)
        }
    }
}

import ChorusCore
import ChorusSQLite
import ChorusTestSupport
import Foundation
import Testing

@testable import ChorusPostgres

/// One contract for the push subscription stores (docs/pwa.md, "Web Push"): every case runs on
/// memory, on SQLite on a real file, and on PostgreSQL (a fresh database each), where `other` is
/// a second node's store on the same database (memory and SQLite are one node: the same store).
@Suite(.serialized) struct PushSubscriptionStoreContractTests {
    typealias Case = @Sendable (_ store: any PushSubscriptionStore, _ other: any PushSubscriptionStore) async throws -> Void

    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("chorus-push-\(UUID().uuidString)/push.sqlite").path
    }

    static func subscription(_ id: String, user: String, topics: [String] = [], at time: Int64) -> PushSubscription {
        PushSubscription(id: id, user: user, endpoint: "https://push.example.net/\(id)", p256dh: "key-\(id)", auth: "auth-\(id)", topics: topics, createdAt: time)
    }

    static let cases: [(name: String, run: Case)] = [
        ("savesListsByUserAndTopicAndRemoves", savesListsByUserAndTopicAndRemoves), ("seenByAnotherNode", seenByAnotherNode),
    ]

    // MARK: - Engines

    @Test(arguments: Self.cases.map(\.name))
    func memory(_ name: String) async throws {
        let store = MemoryPushSubscriptionStore()
        try await Self.cases.first { $0.name == name }!.run(store, store)
    }

    @Test(arguments: Self.cases.map(\.name))
    func sqlite(_ name: String) async throws {
        let store = try SQLitePushSubscriptionStore(path: Self.temporaryPath())
        try await Self.cases.first { $0.name == name }!.run(store, store)
        try store.close()
    }

    @Test func postgres() async throws {
        try await PostgresServiceTests.eachOnTwoNodes(Self.cases.count, database: "push") { index, node, second in
            try await Self.cases[index].run(PostgresPushSubscriptionStore(client: node.client), PostgresPushSubscriptionStore(client: second.client))
        }
    }

    /// SQLite alone: a reopened file has what was saved (PostgreSQL's durability is the server's).
    @Test func sqliteKeepsSubscriptionsAcrossOpens() async throws {
        let path = Self.temporaryPath()
        let first = try SQLitePushSubscriptionStore(path: path)
        try await first.save(Self.subscription("a", user: "alice", topics: ["t:1", "t:0"], at: 1))
        try first.close()
        let again = try SQLitePushSubscriptionStore(path: path)
        // Topics keep the order they were given in.
        #expect(try await again.subscriptions(ofUser: "alice") == [Self.subscription("a", user: "alice", topics: ["t:1", "t:0"], at: 1)])
    }

    // MARK: - Cases

    static func savesListsByUserAndTopicAndRemoves(_ store: any PushSubscriptionStore, _ other: any PushSubscriptionStore) async throws {
        try await store.save(Self.subscription("b", user: "alice", topics: ["alerts:news", "chat:x"], at: 2))
        try await store.save(Self.subscription("a", user: "alice", at: 1))
        try await store.save(Self.subscription("c", user: "bob", topics: ["alerts:news"], at: 3))

        #expect(try await store.subscriptions(ofUser: "alice").map(\.id) == ["a", "b"])
        #expect(try await store.subscriptions(ofUser: "alice").last == Self.subscription("b", user: "alice", topics: ["alerts:news", "chat:x"], at: 2))
        #expect(try await store.subscriptions(forTopic: "alerts:news").map(\.id) == ["b", "c"])
        #expect(try await store.subscriptions(forTopic: "chat").isEmpty)

        // Saving the same id replaces it: another user, other topics.
        try await store.save(Self.subscription("b", user: "bob", topics: ["chat:x"], at: 4))
        #expect(try await store.subscriptions(ofUser: "alice").map(\.id) == ["a"])
        #expect(try await store.subscriptions(forTopic: "alerts:news").map(\.id) == ["c"])
        #expect(try await store.subscriptions(forTopic: "chat:x").map(\.user) == ["bob"])

        // Removing needs the owner when one is named.
        #expect(try await store.remove(id: "c", user: "alice") == false)
        #expect(try await store.remove(id: "c", user: "bob"))
        #expect(try await store.remove(id: "c", user: nil) == false)
        #expect(try await store.remove(id: "a", user: nil))
        #expect(try await store.subscriptions(forTopic: "alerts:news").isEmpty)
        #expect(try await store.subscriptions(ofUser: "alice").isEmpty)
    }

    /// What one node saves, replaces or removes, another node's store sees at once.
    static func seenByAnotherNode(_ store: any PushSubscriptionStore, _ other: any PushSubscriptionStore) async throws {
        try await store.save(Self.subscription("a", user: "alice", topics: ["t:2", "t:1"], at: 1))
        #expect(try await other.subscriptions(forTopic: "t:1") == [Self.subscription("a", user: "alice", topics: ["t:2", "t:1"], at: 1)])
        try await other.save(Self.subscription("a", user: "carol", topics: ["t:3"], at: 5))
        #expect(try await store.subscriptions(ofUser: "alice").isEmpty)
        #expect(try await store.subscriptions(forTopic: "t:3").map(\.user) == ["carol"])
        #expect(try await other.remove(id: "a", user: "carol"))
        #expect(try await store.subscriptions(forTopic: "t:3").isEmpty)
    }
}

import ChorusCore
import ChorusSQLite
import Foundation
import Testing

/// The same behaviour from both push subscription stores: memory, and SQLite on a real file.
@Suite struct PushSubscriptionStoreTests {
    enum Kind: String, CaseIterable, Sendable { case memory, sqlite }

    static func makeStore(_ kind: Kind, path: String = Self.temporaryPath()) throws -> any PushSubscriptionStore {
        switch kind {
        case .memory: MemoryPushSubscriptionStore()
        case .sqlite: try SQLitePushSubscriptionStore(path: path)
        }
    }

    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("chorus-push-\(UUID().uuidString)/push.sqlite").path
    }

    static func subscription(_ id: String, user: String, topics: [String] = [], at time: Int64) -> PushSubscription {
        PushSubscription(id: id, user: user, endpoint: "https://push.example.net/\(id)", p256dh: "key-\(id)", auth: "auth-\(id)", topics: topics, createdAt: time)
    }

    @Test(arguments: Kind.allCases)
    func savesListsByUserAndTopicAndRemoves(_ kind: Kind) async throws {
        let store = try Self.makeStore(kind)
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

    @Test func sqliteKeepsSubscriptionsAcrossOpens() async throws {
        let path = Self.temporaryPath()
        let first = try SQLitePushSubscriptionStore(path: path)
        try await first.save(Self.subscription("a", user: "alice", topics: ["t:1", "t:0"], at: 1))
        try first.close()
        let again = try SQLitePushSubscriptionStore(path: path)
        // Topics keep the order they were given in.
        #expect(try await again.subscriptions(ofUser: "alice") == [Self.subscription("a", user: "alice", topics: ["t:1", "t:0"], at: 1)])
    }
}

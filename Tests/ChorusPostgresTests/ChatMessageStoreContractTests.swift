import ChorusCore
import ChorusSQLite
import ChorusTestSupport
import Foundation
import Testing

@testable import ChorusPostgres

/// One contract for the messages resource's two stores (docs/event-bus.md, "The messages
/// resource"): every case runs on SQLiteChatMessageStore and on PostgresChatMessageStore, each
/// on a fresh database. Times are passed in.
@Suite(.serialized) struct ChatMessageStoreContractTests {
    typealias Case = @Sendable (_ store: any ChatMessageStore) async throws -> Void

    static func new(_ id: String, from sender: String = "alice", channel: String? = "general", to recipient: String? = nil, text: String = "hi", metadata: String? = nil) -> NewChatMessage {
        NewChatMessage(id: id, sender: sender, channelID: recipient == nil ? channel : nil, recipientID: recipient, text: text, metadata: metadata)
    }

    // MARK: - Engines

    @Test(arguments: Self.cases.map(\.name))
    func sqlite(_ name: String) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-messages-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteChatMessageStore(path: directory.appendingPathComponent("messages.sqlite").path)
        try await Self.cases.first { $0.name == name }!.run(store)
        try store.close()
    }

    @Test func postgres() async throws {
        try await PostgresTestServer.with { server in
            for (index, contractCase) in Self.cases.enumerated() {
                let url = try await server.createDatabase("messages\(index)")
                let node = try PostgresServiceTests.service(url)
                try await PostgresServiceTests.whileRunning(node) {
                    try await contractCase.run(PostgresChatMessageStore(client: node.client))
                }
            }
        }
    }

    static let cases: [(name: String, run: Case)] = [
        ("insertAndRead", insertAndRead), ("listing", listing), ("updateAndDelete", updateAndDelete), ("outbox", outbox),
        ("duplicateID", duplicateID),
    ]

    // MARK: - Cases

    static func insertAndRead(_ store: any ChatMessageStore) async throws {
        let first = try await store.insert(Self.new("m1", text: "héllo \"there\"", metadata: #"{"k":[1,2]}"#), now: 100)
        #expect(first.id == "m1" && first.sender == "alice" && first.channelID == "general" && first.recipientID == nil)
        #expect(first.text == "héllo \"there\"" && first.metadata == #"{"k":[1,2]}"#)
        #expect(first.createdAt == 100 && first.updatedAt == 100 && first.version == 1 && !first.deleted)
        let second = try await store.insert(Self.new("m2", to: "bob"), now: 200)
        #expect(second.sequence > first.sequence && second.recipientID == "bob" && second.channelID == nil)
        #expect(try await store.message("m1") == first)
        #expect(try await store.message("nobody") == nil)
    }

    static func listing(_ store: any ChatMessageStore) async throws {
        _ = try await store.insert(Self.new("c1"), now: 1)
        _ = try await store.insert(Self.new("d1", from: "bob", to: "carol"), now: 2)
        _ = try await store.insert(Self.new("c2", from: "bob", channel: "random"), now: 3)
        _ = try await store.insert(Self.new("c3", from: "carol"), now: 4)
        _ = try await store.insert(Self.new("d2", from: "alice", to: "bob"), now: 5)
        #expect(try await store.messages(ChatMessageQuery()).map(\.id) == ["d2", "c3", "c2", "d1", "c1"])
        #expect(try await store.messages(ChatMessageQuery(channelID: "general")).map(\.id) == ["c3", "c1"])
        #expect(try await store.messages(ChatMessageQuery(user: "bob")).map(\.id) == ["d2", "c2", "d1"])
        #expect(try await store.messages(ChatMessageQuery(channelID: "random", user: "bob")).map(\.id) == ["c2"])
        // Paging: before the last page's lowest sequence.
        let page = try await store.messages(ChatMessageQuery(limit: 2))
        #expect(page.map(\.id) == ["d2", "c3"])
        let next = try await store.messages(ChatMessageQuery(beforeSequence: page.last!.sequence, limit: 2))
        #expect(next.map(\.id) == ["c2", "d1"])
        let last = try await store.messages(ChatMessageQuery(beforeSequence: next.last!.sequence, limit: 2))
        #expect(last.map(\.id) == ["c1"])
        // Deleted messages are not listed.
        _ = try await store.delete("c3", now: 9)
        #expect(try await store.messages(ChatMessageQuery(channelID: "general")).map(\.id) == ["c1"])
    }

    static func updateAndDelete(_ store: any ChatMessageStore) async throws {
        _ = try await store.insert(Self.new("m", metadata: #"{"a":1}"#), now: 10)
        let text = try #require(try await store.update("m", ChatMessagePatch(text: "edited"), now: 20))
        #expect(text.text == "edited" && text.metadata == #"{"a":1}"# && text.version == 2 && text.updatedAt == 20 && text.createdAt == 10)
        let metadata = try #require(try await store.update("m", ChatMessagePatch(metadata: .some(#"{"b":2}"#)), now: 30))
        #expect(metadata.text == "edited" && metadata.metadata == #"{"b":2}"# && metadata.version == 3)
        let cleared = try #require(try await store.update("m", ChatMessagePatch(metadata: .some(nil)), now: 40))
        #expect(cleared.metadata == nil && cleared.version == 4)
        #expect(try await store.update("nobody", ChatMessagePatch(text: "x"), now: 50) == nil)

        let deleted = try #require(try await store.delete("m", now: 60))
        #expect(deleted.deleted && deleted.text == "" && deleted.metadata == nil && deleted.version == 5 && deleted.updatedAt == 60)
        #expect(try await store.message("m") == deleted)
        // A tombstone is neither changed nor deleted again.
        #expect(try await store.update("m", ChatMessagePatch(text: "back"), now: 70) == nil)
        #expect(try await store.delete("m", now: 70) == nil)
        #expect(try await store.delete("nobody", now: 70) == nil)
    }

    static func outbox(_ store: any ChatMessageStore) async throws {
        _ = try await store.insert(Self.new("a"), now: 1)
        _ = try await store.insert(Self.new("b"), now: 2)
        #expect(try await store.unpublished(limit: 10).map(\.id) == ["a", "b"])
        #expect(try await store.unpublished(limit: 1).map(\.id) == ["a"])
        try await store.markPublished("a", version: 1)
        #expect(try await store.unpublished(limit: 10).map(\.id) == ["b"])
        // A change makes it unpublished again, with its new version.
        _ = try await store.update("a", ChatMessagePatch(text: "2"), now: 3)
        #expect(try await store.unpublished(limit: 10).map { "\($0.id).v\($0.version)" } == ["a.v2", "b.v1"])
        // Marking an older version does not hide a newer change, nor go back.
        try await store.markPublished("a", version: 1)
        #expect(try await store.unpublished(limit: 10).map(\.id) == ["a", "b"])
        try await store.markPublished("a", version: 2)
        try await store.markPublished("b", version: 1)
        #expect(try await store.unpublished(limit: 10).isEmpty)
        // A deletion is an unpublished change too.
        _ = try await store.delete("b", now: 4)
        let waiting = try await store.unpublished(limit: 10)
        #expect(waiting.map(\.id) == ["b"] && waiting[0].deleted && waiting[0].eventType == "message.deleted" && waiting[0].eventID == "b.v2")
    }

    static func duplicateID(_ store: any ChatMessageStore) async throws {
        _ = try await store.insert(Self.new("same"), now: 1)
        await #expect(throws: StoreError.self) { try await store.insert(Self.new("same", text: "other"), now: 2) }
        #expect(try await store.message("same")?.text == "hi")
    }
}

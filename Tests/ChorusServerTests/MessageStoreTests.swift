import ChorusCore
import ChorusSQLite
import Foundation
import NIOCore
import Testing

/// The same behaviour from every store: the in-memory one and SQLite on a real file.
@Suite struct MessageStoreTests {
    enum Kind: String, CaseIterable, Sendable { case memory, sqlite }

    static func makeStore(_ kind: Kind, path: String = Self.temporaryPath()) throws -> any MessageStore {
        switch kind {
        case .memory: MemoryMessageStore()
        case .sqlite: try SQLiteMessageStore(path: path, sync: .full)
        }
    }

    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("chorus-store-\(UUID().uuidString)/chorus.sqlite").path
    }

    static func message(_ topic: String, _ offset: UInt64, sequence: UInt64, epoch: String = "e1", ts: Int64 = 1000, data: String = "1") -> StoredMessage {
        StoredMessage(
            envelope: MessageEnvelope(
                topic: topic, event: "message", data: ByteBuffer(string: data), messageID: "m\(sequence)",
                offset: offset, epoch: epoch, timestamp: ts, from: MessageSender(user: "u", client: "c")
            ),
            sequence: sequence
        )
    }

    /// Appends `count` messages to `topic` after `start`, as the committer would.
    static func append(_ store: any MessageStore, _ topic: String, from start: UInt64, count: UInt64, sequence: inout UInt64, keep: Int = 1000, ts: Int64 = 1000) throws {
        var messages: [StoredMessage] = []
        for offset in (start + 1)...(start + count) {
            sequence += 1
            messages.append(Self.message(topic, offset, sequence: sequence, ts: ts))
        }
        try store.append(AppendBatch(
            messages: messages,
            newTopics: start == 0 ? [topic: "e1"] : [:],
            lastOffsets: [topic: start + count],
            keep: [topic: keep]
        ))
    }

    @Test(arguments: Kind.allCases)
    func appendsAndReadsInOrder(kind: Kind) throws {
        let store = try Self.makeStore(kind)
        var sequence: UInt64 = 0
        try Self.append(store, "chat:a", from: 0, count: 5, sequence: &sequence)
        try Self.append(store, "chat:b", from: 0, count: 2, sequence: &sequence)
        try Self.append(store, "chat:a", from: 5, count: 1, sequence: &sequence)

        let snapshot = try store.loadSnapshot()
        #expect(snapshot.topics["chat:a"] == TopicHistoryState(epoch: "e1", lastOffset: 6))
        #expect(snapshot.topics["chat:b"] == TopicHistoryState(epoch: "e1", lastOffset: 2))
        #expect(snapshot.lastSequence == 8)

        let page = try store.messages(topic: "chat:a", after: 2, limit: 3)
        #expect(page.map(\.offset) == [3, 4, 5])
        #expect(page.first?.envelope.epoch == "e1")
        #expect(page.first?.envelope.from == MessageSender(user: "u", client: "c"))
        #expect(String(buffer: page[0].envelope.data) == "1")
        #expect(try store.messages(topic: "chat:a", after: 6, limit: 10).isEmpty)
        #expect(try store.messages(topic: "nope", after: 0, limit: 10).isEmpty)

        let across = try store.messages(matching: [TopicPattern("chat:a"), TopicPattern("chat:b")], afterSequence: 4, through: 8, newerThan: nil, limit: 10, maxBytes: 1 << 20)
        #expect(across.map(\.sequence) == [5, 6, 7, 8])
        #expect(across.map(\.topic) == ["chat:a", "chat:b", "chat:b", "chat:a"])
        #expect(across.first?.envelope.epoch == "e1")
        let onlyB = try store.messages(matching: [TopicPattern("chat:b")], afterSequence: 0, through: 8, newerThan: nil, limit: 1, maxBytes: 1 << 20)
        #expect(onlyB.map(\.sequence) == [6])
    }

    /// A pattern replay's page: one query bounded by count, bytes and the floor, in commit order.
    @Test(arguments: Kind.allCases)
    func pagesPatternReplays(kind: Kind) throws {
        let store = try Self.makeStore(kind)
        var sequence: UInt64 = 0
        for name in ["a", "b", "c"] {
            try Self.append(store, "room.\(name)", from: 0, count: 4, sequence: &sequence, ts: 1000)
        }
        try Self.append(store, "other.x", from: 0, count: 2, sequence: &sequence, ts: 1000)
        try Self.append(store, "room.a", from: 4, count: 2, sequence: &sequence, ts: 3000)
        let patterns = [try TopicPattern("room.*")]
        // The floor (`through`) leaves out what was committed after the replay started.
        let all = try store.messages(matching: patterns, afterSequence: 0, through: 14, newerThan: nil, limit: 100, maxBytes: 1 << 20)
        #expect(all.map(\.sequence) == Array(1...12))
        // Count, then bytes (each message's data is one byte): a page ends at the first bound reached.
        #expect(try store.messages(matching: patterns, afterSequence: 2, through: 16, newerThan: nil, limit: 3, maxBytes: 100).map(\.sequence) == [3, 4, 5])
        #expect(try store.messages(matching: patterns, afterSequence: 2, through: 16, newerThan: nil, limit: 100, maxBytes: 2).map(\.sequence) == [3, 4])
        #expect(try store.messages(matching: patterns, afterSequence: 12, through: 16, newerThan: nil, limit: 100, maxBytes: 0).map(\.sequence) == [])
        // By time: only the newer messages, still paged by sequence.
        #expect(try store.messages(matching: patterns, afterSequence: 0, through: 16, newerThan: 2000, limit: 100, maxBytes: 100).map(\.sequence) == [15, 16])
    }

    @Test(arguments: Kind.allCases)
    func keepsOnlyTheNewestPerTopic(kind: Kind) throws {
        let store = try Self.makeStore(kind)
        var sequence: UInt64 = 0
        try Self.append(store, "chat:a", from: 0, count: 10, sequence: &sequence, keep: 4)
        #expect(try store.messages(topic: "chat:a", after: 0, limit: 1).first?.offset == 7)
        #expect(try store.messages(topic: "chat:a", after: 0, limit: 100).map(\.offset) == [7, 8, 9, 10])
        try Self.append(store, "chat:a", from: 10, count: 1, sequence: &sequence, keep: 4)
        #expect(try store.messages(topic: "chat:a", after: 0, limit: 100).map(\.offset) == [8, 9, 10, 11])
    }

    @Test(arguments: Kind.allCases)
    func trimsByAge(kind: Kind) throws {
        let store = try Self.makeStore(kind)
        var sequence: UInt64 = 0
        try Self.append(store, "chat:a", from: 0, count: 3, sequence: &sequence, ts: 1000)
        try Self.append(store, "chat:a", from: 3, count: 2, sequence: &sequence, ts: 5000)
        #expect(try store.messages(matching: [TopicPattern("chat:a")], afterSequence: 0, through: 5, newerThan: 1000, limit: 10, maxBytes: 100).map(\.offset) == [4, 5])
        #expect(try store.trim(topics: ["chat:a"], olderThan: 2000) == 3)
        #expect(try store.messages(topic: "chat:a", after: 0, limit: 10).map(\.offset) == [4, 5])
        // Trimming never rewinds offsets: the topic's state is untouched.
        #expect(try store.loadSnapshot().topics["chat:a"]?.lastOffset == 5)
    }

    @Test func sqliteSurvivesReopening() throws {
        let path = Self.temporaryPath()
        var sequence: UInt64 = 0
        do {
            let store = try SQLiteMessageStore(path: path, sync: .full)
            try Self.append(store, "chat:a", from: 0, count: 3, sequence: &sequence)
        }
        let reopened = try SQLiteMessageStore(path: path, sync: .normal)
        let snapshot = try reopened.loadSnapshot()
        #expect(snapshot.topics["chat:a"] == TopicHistoryState(epoch: "e1", lastOffset: 3))
        #expect(snapshot.lastSequence == 3)
        #expect(try reopened.messages(topic: "chat:a", after: 0, limit: 10).map(\.envelope.messageID) == ["m1", "m2", "m3"])
    }

    @Test func sqliteRefusesAFileThatIsNotItsDatabase() throws {
        let path = Self.temporaryPath()
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let garbage = Data((0..<4096).map { _ in UInt8.random(in: 0...255) })
        try garbage.write(to: URL(fileURLWithPath: path))
        #expect(throws: StoreError.self) { try SQLiteMessageStore(path: path, sync: .full) }
        // The file is left as it was: history is never silently replaced.
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == garbage)
    }

    @Test func sqliteFailsAppendsWhenFullAndStaysReadable() throws {
        let store = try SQLiteMessageStore(path: Self.temporaryPath(), sync: .full, maxSize: 64 << 10)
        var sequence: UInt64 = 0
        var offset: UInt64 = 0
        var failure: (any Error)?
        while failure == nil, offset < 10_000 {
            do {
                try Self.append(store, "chat:a", from: offset, count: 50, sequence: &sequence)
                offset += 50
            } catch {
                failure = error
            }
        }
        let error = try #require(failure as? StoreError)
        #expect(error.description.contains("full"))
        // What was committed before is intact.
        #expect(try store.messages(topic: "chat:a", after: 0, limit: 1).first?.offset == 1)
        #expect(try store.loadSnapshot().topics["chat:a"]?.lastOffset == offset)
    }
}

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
    func readsNewestFirstBeforeAnOffset(kind: Kind) throws {
        let store = try Self.makeStore(kind)
        var sequence: UInt64 = 0
        try Self.append(store, "chat:a", from: 0, count: 10, sequence: &sequence, keep: 6)
        try Self.append(store, "chat:b", from: 0, count: 3, sequence: &sequence)
        // Kept: 5…10. The last three, then the ones before them, down to the oldest kept.
        #expect(try store.messages(topic: "chat:a", before: .max, limit: 3).map(\.offset) == [10, 9, 8])
        #expect(try store.messages(topic: "chat:a", before: 8, limit: 3).map(\.offset) == [7, 6, 5])
        #expect(try store.messages(topic: "chat:a", before: 6, limit: 3).map(\.offset) == [5])
        #expect(try store.messages(topic: "chat:a", before: 5, limit: 3).isEmpty)
        #expect(try store.messages(topic: "chat:a", before: 100, limit: 2).map(\.offset) == [10, 9])
        #expect(try store.messages(topic: "chat:c", before: .max, limit: 3).isEmpty)
    }

    @Test(arguments: Kind.allCases)
    func trimsByAge(kind: Kind) throws {
        let store = try Self.makeStore(kind)
        var sequence: UInt64 = 0
        try Self.append(store, "chat:a", from: 0, count: 3, sequence: &sequence, ts: 1000)
        try Self.append(store, "chat:a", from: 3, count: 2, sequence: &sequence, ts: 5000)
        #expect(try store.messages(matching: [TopicPattern("chat:a")], afterSequence: 0, through: 5, newerThan: 1000, limit: 10, maxBytes: 100).map(\.offset) == [4, 5])
        #expect(try store.trim(namespace: "chat", olderThan: 2000).isEmpty)
        #expect(try store.messages(topic: "chat:a", after: 0, limit: 10).map(\.offset) == [4, 5])
        // Trimming never rewinds offsets: the topic's state is untouched.
        #expect(try store.loadSnapshot().topics["chat:a"]?.lastOffset == 5)
    }

    @Test(arguments: Kind.allCases)
    func trimmingForgetsTopicsLeftEmptyInItsNamespaceOnly(kind: Kind) throws {
        let path = Self.temporaryPath()
        let store = try Self.makeStore(kind, path: path)
        var sequence: UInt64 = 0
        try Self.append(store, "chat:old", from: 0, count: 2, sequence: &sequence, ts: 1000)
        try Self.append(store, "chat.old", from: 0, count: 1, sequence: &sequence, ts: 1000)
        try Self.append(store, "chat", from: 0, count: 1, sequence: &sequence, ts: 1000)
        try Self.append(store, "chat:new", from: 0, count: 1, sequence: &sequence, ts: 5000)
        try Self.append(store, "chatter:old", from: 0, count: 1, sequence: &sequence, ts: 1000)
        try Self.append(store, "news:old", from: 0, count: 1, sequence: &sequence, ts: 1000)
        #expect(try Set(store.trim(namespace: "chat", olderThan: 2000)) == ["chat:old", "chat.old", "chat"])
        #expect(try Set(store.loadSnapshot().topics.keys) == ["chat:new", "chatter:old", "news:old"])
        #expect(try store.messages(topic: "chat:old", after: 0, limit: 10).isEmpty)
        #expect(try store.messages(topic: "news:old", after: 0, limit: 10).count == 1)
        // Published to again, a forgotten topic starts anew.
        try Self.append(store, "chat:old", from: 0, count: 1, sequence: &sequence, ts: 6000)
        #expect(try store.loadSnapshot().topics["chat:old"]?.lastOffset == 1)
        if kind == .sqlite {
            #expect(try Set(SQLiteMessageStore(path: path, sync: .full).loadSnapshot().topics.keys) == ["chat:new", "chat:old", "chatter:old", "news:old"])
        }
    }

    @Test(arguments: Kind.allCases)
    func mayHaveTrimmedFollowsTheRule(kind: Kind) throws {
        let store = try Self.makeStore(kind)
        let patterns = { (texts: [String]) in try texts.map { try TopicPattern($0) } }
        var sequence: UInt64 = 0
        // By history size: room.a keeps 2 of 4 (ts 1000, 2000 trimmed).
        for ts in [Int64(1000), 2000, 3000, 4000] {
            try Self.append(store, "chat:room.a", from: UInt64(ts / 1000 - 1), count: 1, sequence: &sequence, keep: 2, ts: ts)
        }
        try Self.append(store, "chat:room.b", from: 0, count: 1, sequence: &sequence, ts: 9000)
        #expect(try store.mayHaveTrimmed(matching: patterns(["chat:room.*"]), newerThan: 1999))
        #expect(try !store.mayHaveTrimmed(matching: patterns(["chat:room.*"]), newerThan: 2000))
        #expect(try !store.mayHaveTrimmed(matching: patterns(["chat:other.*", "news:z.**"]), newerThan: 0))
        #expect(try store.mayHaveTrimmed(matching: patterns(["news:z.**", "chat:room.a"]), newerThan: 0))
        // By TTL, without forgetting: room.a loses ts 3000.
        #expect(try store.trim(namespace: "chat", olderThan: 3500).isEmpty)
        #expect(try store.mayHaveTrimmed(matching: patterns(["chat:room.a"]), newerThan: 2999))
        #expect(try !store.mayHaveTrimmed(matching: patterns(["chat:room.a"]), newerThan: 3000))
        // Forgotten topics count for their whole namespace, and for patterns spanning namespaces.
        try Self.append(store, "news:x", from: 0, count: 1, sequence: &sequence, ts: 7000)
        #expect(try store.trim(namespace: "news", olderThan: 8000) == ["news:x"])
        #expect(try store.mayHaveTrimmed(matching: patterns(["news:y"]), newerThan: 6999))
        #expect(try !store.mayHaveTrimmed(matching: patterns(["news:y"]), newerThan: 7000))
        #expect(try store.mayHaveTrimmed(matching: patterns(["*.y"]), newerThan: 6999))
        #expect(try !store.mayHaveTrimmed(matching: patterns(["chat:room.b"]), newerThan: 0))
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

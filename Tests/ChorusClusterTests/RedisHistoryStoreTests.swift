import ChorusCluster
import Foundation
import ChorusCore
import ChorusRedis
import ChorusTestSupport
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// ``RedisHistoryStore`` on a real Redis: what the script assigns, and every read.
@Suite(.timeLimit(.minutes(1))) struct RedisHistoryStoreTests {
    final class Setup: Sendable {
        let server: RedisTestServer
        let client: RedisClient
        let store: RedisHistoryStore
        let commits = Mutex<[HistoryCommit]>([])
        let loop = MultiThreadedEventLoopGroup.singleton.next()

        init(ttls: [String: Duration] = [:]) throws {
            self.server = try RedisTestServer()
            self.client = RedisClient(configuration: try RedisConfiguration(url: self.server.url))
            self.store = RedisHistoryStore(node: "node-a", client: self.client, logLength: 50, ttls: ttls)
            self.store.onCommit { [self] commit in self.commits.withLock { $0.append(commit) } }
        }

        func run(_ body: () async throws -> Void) async throws {
            let client = self.client
            try await self.server.run([{ try await client.run() }], connected: { client.isConnected }, body)
        }

        /// Appends `data` to `topic` (keeping `keep`) and waits for the stored message.
        func append(_ topic: String, _ data: Int, keep: Int = 100, timestamp: Int64 = 1) async throws -> StoredMessage {
            let message = BrokerMessage(
                envelope: MessageEnvelope(topic: topic, event: "message", data: ByteBuffer(string: String(data)), messageID: "m-\(data)", timestamp: timestamp),
                target: .topic(try Topic(topic))
            )
            return try await withCheckedThrowingContinuation { continuation in
                self.store.append(HistoryAppend(message: message, keep: keep) { continuation.resume(with: $0.mapError { $0 as any Error }) })
            }
        }
    }

    static func data(_ messages: [StoredMessage]) -> [Int] {
        messages.compactMap { Int(String(buffer: $0.envelope.data)) }
    }

    @Test func appendsGetOffsetsInOrderOneEpochAndIncreasingSequences() async throws {
        let setup = try Setup()
        try await setup.run {
            // Many at once: batched, in the callers' order.
            let stored = try await withThrowingTaskGroup(of: StoredMessage.self) { group in
                var all: [StoredMessage] = []
                for index in 1...5 { all.append(try await setup.append("demo:a", index)) }
                group.addTask { try await setup.append("demo:b", 6) }
                for try await message in group { all.append(message) }
                return all
            }
            #expect(stored.prefix(5).map(\.offset) == [1, 2, 3, 4, 5] && stored[5].offset == 1)
            #expect(Set(stored.prefix(5).map { $0.envelope.epoch }).count == 1)
            #expect(stored.map(\.sequence) == stored.map(\.sequence).sorted() && Set(stored.map(\.sequence)).count == 6)
            let position = try await setup.store.committedPosition(of: "demo:a", on: setup.loop).get()
            #expect(position.state == TopicHistoryState(epoch: stored[0].envelope.epoch ?? "", lastOffset: 5))
            #expect(position.sequence == stored[5].sequence)
            #expect(try await setup.store.committedSequence(on: setup.loop).get() == stored[5].sequence)
            #expect(try await setup.store.committedPosition(of: "demo:none", on: setup.loop).get().state == nil)
            let committed = setup.commits.withLock { $0 }.flatMap { commit -> [BrokerMessage] in
                if case .committed(let messages) = commit { messages } else { [] }
            }
            #expect(committed.count == 6 && committed.allSatisfy { $0.storeSequence != nil && $0.envelope.offset != nil })
        }
    }

    @Test func aTTLDropsOlderMessagesAndLetsTheTopicExpireWhole() async throws {
        let setup = try Setup(ttls: ["demo": .seconds(60)])
        try await setup.run {
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            _ = try await setup.append("demo:t", 1, timestamp: now - 120_000)
            _ = try await setup.append("demo:t", 2, timestamp: now - 90_000)
            let fresh = try await setup.append("demo:t", 3, timestamp: now)
            #expect(fresh.offset == 3)
            let kept = try await setup.store.messages(topic: "demo:t", after: 0, limit: 10, maxBytes: 1 << 20, on: setup.loop).get()
            #expect(Self.data(kept) == [3])
            // The topic's keys expire the TTL after its last publish (then a new epoch starts).
            for key in ["chorus:h:demo:t", "chorus:s:demo:t"] {
                let ttl = try await setup.client.send(RESPCommand("PTTL", [.string(key)])).int ?? -1
                #expect(ttl > 0 && ttl <= 60_000, "\(key) PTTL \(ttl)")
            }
            let pattern = try TopicPattern("demo:*")
            #expect(try await setup.store.mayHaveTrimmed(matching: [pattern], newerThan: now - 100_000, on: setup.loop).get())
            // Without a TTL the keys stay.
            _ = try await setup.append("other:t", 1)
            #expect(try await setup.client.send(RESPCommand("PTTL", ["chorus:s:other:t"])).int == -1)
        }
    }

    @Test func aTopicWhoseMetaWasLostStartsANewEpochAndANewStream() async throws {
        let setup = try Setup()
        try await setup.run {
            var first: StoredMessage?
            for index in 1...3 { first = try await setup.append("demo:e", index) }
            // As an eviction would: the offset and epoch are gone, the stream is not.
            _ = try await setup.client.send(RESPCommand("DEL", ["chorus:h:demo:e"]))
            let next = try await setup.append("demo:e", 4)
            #expect(next.offset == 1 && next.envelope.epoch != first?.envelope.epoch)
            let page = try await setup.store.messages(topic: "demo:e", after: 0, limit: 10, maxBytes: 1 << 20, on: setup.loop).get()
            #expect(Self.data(page) == [4] && page.first?.envelope.epoch == next.envelope.epoch)
        }
    }

    @Test func pagesReadByOffsetBothWaysWithinTheirBounds() async throws {
        let setup = try Setup()
        try await setup.run {
            for index in 1...10 { _ = try await setup.append("demo:a", index) }
            let store = setup.store
            #expect(Self.data(try await store.messages(topic: "demo:a", after: 3, limit: 4, maxBytes: .max, on: setup.loop).get()) == [4, 5, 6, 7])
            #expect(Self.data(try await store.messages(topic: "demo:a", before: 4, limit: 10, maxBytes: .max, on: setup.loop).get()) == [3, 2, 1])
            // The message that reaches maxBytes is the last one.
            #expect(Self.data(try await store.messages(topic: "demo:a", after: 0, limit: 10, maxBytes: 2, on: setup.loop).get()) == [1, 2])
            let page = try await store.messages(topic: "demo:a", after: 9, limit: 10, maxBytes: .max, on: setup.loop).get()
            #expect(page.map(\.offset) == [10] && page[0].envelope.epoch != nil && page[0].envelope.messageID == "m-10")
            #expect(try await store.messages(topic: "demo:none", after: 0, limit: 10, maxBytes: .max, on: setup.loop).get().isEmpty)
        }
    }

    @Test func aTopicLostInRedisStartsANewEpochAndTheSequenceNeverGoesBack() async throws {
        let setup = try Setup()
        try await setup.run {
            let before = try await setup.append("demo:a", 1)
            _ = try await setup.client.send(RESPCommand("FLUSHALL", []))
            _ = try await setup.client.send(RESPCommand("SCRIPT", ["FLUSH"]))
            let after = try await setup.append("demo:a", 2)
            #expect(after.offset == 1 && after.envelope.epoch != before.envelope.epoch)
            #expect(after.sequence > before.sequence)
        }
    }

    @Test func patternPagesFollowTheClusterSequenceAcrossTopicsAndNamespaces() async throws {
        let setup = try Setup()
        try await setup.run {
            var sequences: [UInt64] = []
            for index in 1...30 {
                let topic = ["demo:a", "demo:b", "chat:x"][index % 3]
                sequences.append(try await setup.append(topic, index, timestamp: Int64(index)).sequence)
            }
            let last = sequences.last!
            let store = setup.store
            let demo = try await store.messages(matching: [try TopicPattern("demo:*")], afterSequence: sequences[0], through: last, newerThan: nil, limit: 5, maxBytes: .max, on: setup.loop).get()
            #expect(Self.data(demo) == [3, 4, 6, 7, 9])
            let everything = try await store.messages(matching: [try TopicPattern("**")], afterSequence: sequences[24], through: sequences[28], newerThan: nil, limit: 10, maxBytes: .max, on: setup.loop).get()
            #expect(Self.data(everything) == [26, 27, 28, 29])
            let newer = try await store.messages(matching: [try TopicPattern("chat:*")], afterSequence: 0, through: last, newerThan: 20, limit: 10, maxBytes: .max, on: setup.loop).get()
            #expect(Self.data(newer) == [23, 26, 29])
        }
    }

    @Test func trimmingIsReportedForTheNamespaceItTouched() async throws {
        let setup = try Setup()
        try await setup.run {
            for index in 1...3 { _ = try await setup.append("demo:a", index, keep: 2, timestamp: Int64(100 + index)) }
            _ = try await setup.append("chat:x", 4, timestamp: 200)
            let store = setup.store
            #expect(try await store.messages(topic: "demo:a", after: 0, limit: 10, maxBytes: .max, on: setup.loop).get().map(\.offset) == [2, 3])
            #expect(try await store.mayHaveTrimmed(matching: [try TopicPattern("demo:*")], newerThan: 100, on: setup.loop).get())
            #expect(try await !store.mayHaveTrimmed(matching: [try TopicPattern("demo:*")], newerThan: 103, on: setup.loop).get())
            #expect(try await !store.mayHaveTrimmed(matching: [try TopicPattern("chat:*")], newerThan: 0, on: setup.loop).get())
            #expect(try await store.mayHaveTrimmed(matching: [try TopicPattern("**")], newerThan: 0, on: setup.loop).get())
        }
    }

    @Test func appendsFailClearlyWhileRedisIsDown() async throws {
        let setup = try Setup()
        try await setup.run {
            setup.server.kill()
            while setup.client.isConnected { try await Task.sleep(for: .milliseconds(10)) }
            await #expect(throws: StoreError.self) { try await setup.append("demo:a", 1) }
            // The commit handler hears of it right after the completion.
            let failed = { setup.commits.withLock { $0 }.contains { if case .failed(_, 1) = $0 { true } else { false } } }
            for _ in 0..<500 where !failed() { try await Task.sleep(for: .milliseconds(10)) }
            #expect(failed())
        }
    }
}

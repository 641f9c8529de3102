import ChorusCore
import ChorusSQLite
import ChorusTestSupport
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import Testing

@testable import ChorusServer

/// Offsets and epochs come from the store: a new topic gets an epoch and offsets from 1,
/// offsets continue after a reopen, and a topic forgotten by trimming starts a new epoch.
@Suite struct GroupCommitStoreTests {
    typealias Kind = MessageStoreTests.Kind

    static func append(_ store: some HistoryStore, _ topic: String, timestamp: Int64 = 1_000_000) async -> Result<StoredMessage, StoreError> {
        await withCheckedContinuation { continuation in
            store.append(Self.message(topic, timestamp: timestamp) { continuation.resume(returning: $0) })
        }
    }

    static func message(_ topic: String, timestamp: Int64 = 1_000_000, completion: @escaping @Sendable (Result<StoredMessage, StoreError>) -> Void) -> HistoryAppend {
        let envelope = MessageEnvelope(topic: topic, event: "message", data: ByteBuffer(string: "1"), messageID: "m", timestamp: timestamp)
        return HistoryAppend(message: BrokerMessage(envelope: envelope, target: .topic(try! Topic(topic))), keep: 100, completion: completion)
    }

    /// Runs `store` while `body` runs, then shuts it down (committing what it accepted).
    static func running<T: Sendable>(_ store: GroupCommitStore, _ body: () async throws -> T) async throws -> T {
        let run = Task { try await store.run() }
        do {
            let result = try await body()
            run.cancel()
            try await run.value
            return result
        } catch {
            run.cancel()
            throw error
        }
    }

    @Test(arguments: Kind.allCases)
    func aNewTopicGetsAnEpochAndOffsetsFromOne(kind: Kind) async throws {
        let store = try GroupCommitStore(backend: MessageStoreTests.makeStore(kind))
        let (a, b) = try await Self.running(store) {
            var a: [StoredMessage] = []
            for _ in 0..<3 { a.append(try await Self.append(store, "chat:a").get()) }
            return (a, try await Self.append(store, "chat:b").get())
        }
        #expect(a.map(\.offset) == [1, 2, 3])
        #expect(a.map(\.sequence) == [1, 2, 3])
        let epoch = try #require(a[0].envelope.epoch)
        #expect(epoch.count == 8 && a.allSatisfy { $0.envelope.epoch == epoch })
        #expect(b.offset == 1 && b.sequence == 4 && b.envelope.epoch != epoch)
        #expect(store.committedPosition(of: "chat:a") == (TopicHistoryState(epoch: epoch, lastOffset: 3), 4))
    }

    @Test func offsetsContinueAfterSQLiteIsReopened() async throws {
        let path = MessageStoreTests.temporaryPath()
        let first = try GroupCommitStore(backend: SQLiteMessageStore(path: path, sync: .full))
        let before = try await Self.running(first) {
            [try await Self.append(first, "chat:a").get(), try await Self.append(first, "chat:a").get()]
        }
        let reopened = try GroupCommitStore(backend: SQLiteMessageStore(path: path, sync: .full))
        #expect(reopened.committedState(of: "chat:a") == TopicHistoryState(epoch: before[1].envelope.epoch!, lastOffset: 2))
        let after = try await Self.running(reopened) { try await Self.append(reopened, "chat:a").get() }
        #expect(after.offset == 3 && after.sequence == 3 && after.envelope.epoch == before[0].envelope.epoch)
    }

    /// The listener may take a client (and its recovery read) before the store's service has
    /// started its readers: such a read waits for them instead of failing.
    @Test func aReadAskedForBeforeTheStoreRunsIsAnsweredOnceItRuns() async throws {
        let path = MessageStoreTests.temporaryPath()
        let first = try GroupCommitStore(backend: SQLiteMessageStore(path: path, sync: .full))
        _ = try await Self.running(first) { try await Self.append(first, "chat:a").get() }
        let reopened = try GroupCommitStore(backend: SQLiteMessageStore(path: path, sync: .full))
        let early = reopened.messages(topic: "chat:a", after: 0, limit: 10, maxBytes: .max, on: MultiThreadedEventLoopGroup.singleton.next())
        let answered = Mutex(false)
        early.whenComplete { _ in answered.withLock { $0 = true } }
        try await Task.sleep(for: .milliseconds(100))
        #expect(!answered.withLock { $0 }, "a read before run() must wait, not fail")
        let read = try await Self.running(reopened) { try await early.get() }
        #expect(read.map(\.offset) == [1])
    }

    @Test(arguments: Kind.allCases)
    func aTopicForgottenByTrimmingStartsANewEpoch(kind: Kind) async throws {
        let store = try GroupCommitStore(backend: MessageStoreTests.makeStore(kind), ttls: ["chat": .seconds(60)])
        let (old, new) = try await Self.running(store) {
            // Long past its TTL.
            let old = try await Self.append(store, "chat:a", timestamp: 1000).get()
            store.trimSoon()
            await store.waitUntilIdle()
            #expect(store.committedState(of: "chat:a") == nil)
            return (old, try await Self.append(store, "chat:a").get())
        }
        #expect(old.offset == 1 && new.offset == 1)
        #expect(new.envelope.epoch != old.envelope.epoch)
        #expect(new.sequence == 2)
    }

    @Test func gracefulShutdownCommitsWhatWasAcceptedThenRefuses() async throws {
        let backend = FakeMessageStore()
        let store = try GroupCommitStore(backend: backend)
        let group = ServiceGroup(configuration: .init(services: [store], logger: Logger(label: "test")))
        let (results, received) = AsyncStream.makeStream(of: Result<StoredMessage, StoreError>.self)
        backend.holdNext()
        store.append(Self.message("chat:a") { received.yield($0) })
        async let running: Void = group.run()
        await backend.waitUntilHeld()
        for _ in 0..<5 { store.append(Self.message("chat:a") { received.yield($0) }) }
        await group.triggerGracefulShutdown()
        backend.release()
        try await running
        var offsets: [UInt64] = []
        for await result in results.prefix(6) { offsets.append(try result.get().offset) }
        #expect(offsets == Array(1...6))
        #expect(backend.transactions == [1, 5])
        let late = await Self.append(store, "chat:a")
        #expect(throws: StoreError.self) { try late.get() }
    }

    @Test func appendsBeforeRunWaitForItAndAppendsAfterShutdownFail() async throws {
        let store = try GroupCommitStore(backend: MemoryMessageStore())
        let (results, received) = AsyncStream.makeStream(of: Result<StoredMessage, StoreError>.self)
        store.append(Self.message("chat:a") { received.yield($0) })
        #expect(store.committedSequence() == 0)
        let stored = try await Self.running(store) { try await results.first { _ in true }!.get() }
        #expect(stored.offset == 1)
        let late = await Self.append(store, "chat:a")
        #expect(throws: StoreError.self) { try late.get() }
    }
}

import ChorusCore
import ChorusTestSupport
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import ChorusServer

/// The history commit path through the hub, on a fake store: group commit (many publishes in
/// one transaction, offsets in order, acks before deliveries) and a failing store.
@Suite struct HistoryCommitTests {
    /// What happened, in order: acks (`ack <offset>`, `fail`) and broker calls (`deliver <offsets>`).
    final class Journal: Sendable {
        private let entries = Mutex<[String]>([])
        private let waiters = Mutex<[(Int, CheckedContinuation<Void, Never>)]>([])
        private let acks = Mutex(0)

        var all: [String] { self.entries.withLock { $0 } }

        func record(_ entry: String) {
            self.entries.withLock { $0.append(entry) }
        }

        func acknowledged(_ result: Result<Hub.Receipt, ProtocolError>) {
            switch result {
            case .success(let receipt): self.record("ack \(receipt.offset ?? 0)")
            case .failure(let error): self.record(error.code == .internal ? "fail internal" : "fail other")
            }
            let count = self.acks.withLock { count in
                count += 1
                return count
            }
            let ready = self.waiters.withLock { waiters in
                defer { waiters.removeAll { $0.0 <= count } }
                return waiters.filter { $0.0 <= count }.map(\.1)
            }
            for waiter in ready { waiter.resume() }
        }

        func waitForAcks(_ count: Int) async {
            await withCheckedContinuation { continuation in
                let done = self.acks.withLock { acks in
                    guard acks < count else { return true }
                    self.waiters.withLock { $0.append((count, continuation)) }
                    return false
                }
                if done { continuation.resume() }
            }
        }
    }

    struct Setup {
        let hub: Hub
        let backend = FakeMessageStore()
        let store: GroupCommitStore
        let broker: RecordingBroker
        let journal = Journal()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let topic = try! Topic("chat:room")

        init() throws {
            var configuration = HubConfiguration()
            configuration.namespaces = ["chat": NamespaceOptions(historySize: 100)]
            self.store = try GroupCommitStore(backend: self.backend)
            let journal = self.journal
            let broker = RecordingBroker { messages in
                journal.record("deliver " + messages.map { String($0.envelope.offset ?? 0) }.joined(separator: ","))
            }
            self.broker = broker
            self.hub = try Hub(
                configuration: configuration, eventLoopGroup: self.group, authenticator: Authenticator(configuration: configuration),
                historyStore: self.store, broker: { _ in broker }
            )
        }

        func publish() throws {
            let journal = self.journal
            try self.hub.publish(topic: self.topic, event: nil, data: ByteBuffer(string: "1")) { journal.acknowledged($0) }
        }

        /// Publishes one message, holds its commit in the store, publishes `count` more (they
        /// queue for the next commit, failed when `failing`), then lets the store go on.
        func publishDuringAHeldCommit(_ count: Int, failing: Bool = false) async throws {
            self.backend.holdNext()
            try self.publish()
            await self.backend.waitUntilHeld()
            if failing { self.backend.failNext() }
            for _ in 0..<count { try self.publish() }
            self.backend.release()
            await self.journal.waitForAcks(count + 1)
        }

        func shutDown() throws {
            try self.group.syncShutdownGracefully()
        }
    }

    @Test func publishesQueuedDuringACommitShareTheNextOne() async throws {
        let setup = try Setup()
        defer { try? setup.shutDown() }
        try await GroupCommitStoreTests.running(setup.store) {
            try await setup.publishDuringAHeldCommit(50)
            await setup.broker.waitForMessages(51)
        }
        #expect(setup.backend.transactions == [1, 50])
        // One broker call per commit: the batch stays a batch.
        #expect(setup.broker.calls.map(\.count) == [1, 50])
        #expect(setup.broker.calls.joined().map { $0.envelope.offset } == Array(1...51))
        #expect(setup.broker.calls.joined().map(\.storeSequence) == Array(1...51))
        // Every ack comes before the delivery of its message.
        #expect(setup.journal.all == ["ack 1", "deliver 1"] + (2...51).map { "ack \($0)" } + ["deliver " + (2...51).map(String.init).joined(separator: ",")])
    }

    @Test func aFailedCommitFailsEveryPublishOfItAndTheNextOneContinuesTheOffsets() async throws {
        let setup = try Setup()
        defer { try? setup.shutDown() }
        try await GroupCommitStoreTests.running(setup.store) {
            try await setup.publishDuringAHeldCommit(10, failing: true)
            let receipt = try await setup.hub.publishAndWait(topic: setup.topic, event: nil, data: ByteBuffer(string: "2"))
            #expect(receipt.offset == 2)
            await setup.broker.waitForMessages(2)
        }
        #expect(Array(setup.journal.all.prefix(12)) == ["ack 1", "deliver 1"] + Array(repeating: "fail internal", count: 10))
        // Nothing of the failed batch was delivered; offsets go on from the last commit.
        #expect(setup.broker.calls.map { $0.map { $0.envelope.offset } } == [[1], [2]])
        #expect(setup.backend.transactions == [1, 1])
        #expect(setup.hub.metrics.totals().published == 12)
    }
}

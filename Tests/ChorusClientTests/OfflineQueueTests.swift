import ChorusClient
import Foundation
import Testing

@Suite struct OfflineQueueTests {
    func entry(_ n: Int) -> QueuedPublish {
        QueuedPublish(key: "k\(n)", topic: "chat:a", event: "msg", data: "{\"n\":\(n)}")
    }

    @Test func keepsOrderAndRemovesByKey() {
        var queue = OfflineQueue(limit: 10)
        for n in 1...4 { _ = queue.enqueue(self.entry(n)) }
        let first = queue.remove(key: "k2")
        let second = queue.remove(key: "k2")
        #expect(first == 1 && second == nil)
        let oldest = queue.remove(key: "k1")
        #expect(oldest == 0)
        _ = queue.enqueue(self.entry(1))
        #expect(queue.entries.map(\.key) == ["k3", "k4", "k1"])
    }

    @Test func aFullQueueRejectsOrDropsTheOldest() {
        var rejecting = OfflineQueue(limit: 2, policy: .reject)
        _ = rejecting.enqueue(self.entry(1))
        _ = rejecting.enqueue(self.entry(2))
        let rejected = rejecting.enqueue(self.entry(3))
        #expect(rejected == .rejected)
        #expect(rejecting.entries.map(\.key) == ["k1", "k2"])

        var dropping = OfflineQueue(limit: 2, policy: .dropOldest)
        _ = dropping.enqueue(self.entry(1))
        _ = dropping.enqueue(self.entry(2))
        let dropped = dropping.enqueue(self.entry(3))
        #expect(dropped == .droppedOldest(self.entry(1)))
        #expect(dropping.entries.map(\.key) == ["k2", "k3"])

        var none = OfflineQueue(limit: 0, policy: .dropOldest)
        let refused = none.enqueue(self.entry(1))
        #expect(refused == .rejected)
    }

    @Test func acknowledgementsInOrderDrainALongQueue() {
        var queue = OfflineQueue(limit: 10_000)
        for n in 0..<5000 { _ = queue.enqueue(self.entry(n)) }
        for n in 0..<4000 {
            let index = queue.remove(key: "k\(n)")
            #expect(index == 0)
        }
        _ = queue.enqueue(self.entry(9999))
        #expect(queue.count == 1001)
        #expect(queue.entries.first?.key == "k4000" && queue.entries.last?.key == "k9999")
        #expect(queue.removeAll().count == 1001 && queue.count == 0)
    }

    @Test func newKeysAreDistinctUUIDs() {
        let keys = Set((0..<1000).map { _ in QueuedPublish.newKey() })
        #expect(keys.count == 1000)
        #expect(keys.allSatisfy { $0.count == 36 && UUID(uuidString: $0) != nil })
    }

    @Test func theFileKeepsEntriesInOrderAcrossLoads() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("outbox-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        let file = OutboxFile(url: url)
        #expect(try file.load().isEmpty)
        let entries = (1...5).map(self.entry)
        try file.save(entries)
        #expect(try file.load() == entries)
        try file.save([])
        #expect(try file.load().isEmpty)
    }
}

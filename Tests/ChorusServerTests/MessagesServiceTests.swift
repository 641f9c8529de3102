import ChorusCore
import ChorusSQLite
import Foundation
import NIOCore
import Testing

@testable import ChorusServer

extension EventBusTests {
/// The messages resource's outbox (docs/event-bus.md, "The messages resource"): a change is
/// published right after its commit; one whose event was held back (the process died in
/// between, the bus refused it) is published by the sweep, once, with its id and version.
/// Nested in ``EventBusTests``, so its buses run one at a time with the suite's (run beside
/// them, the full parallel run stalled for about 100 s on 2 cores).
@Suite struct MessagesServiceTests {
    static func withService(
        schemas: [String: String] = [:], before: @Sendable (SQLiteChatMessageStore) async throws -> Void = { _ in },
        _ body: @Sendable (MessagesService, EventBus, SQLiteEventStore, SQLiteChatMessageStore) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-messages-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let messages = try SQLiteChatMessageStore(path: directory.appendingPathComponent("messages.sqlite").path, sync: .normal)
        try await before(messages)
        try await EventBusTests.withBus(consumers: [], schemas: schemas, target: EventBusTests.FakeTarget()) { bus, events in
            let service = MessagesService(bus: bus, openStore: { messages })
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await service.run() }
                _ = try await service.running()
                try await body(service, bus, events, messages)
                group.cancelAll()
            }
        }
    }

    static func log(_ events: SQLiteEventStore) async throws -> [LoggedEvent] {
        try await events.events(EventQuery(limit: 100))
    }

    static func new(_ id: String, text: String = "hi") -> NewChatMessage {
        NewChatMessage(id: id, sender: "alice", channelID: "general", recipientID: nil, text: text, metadata: nil)
    }

    @Test func changesStoredButNotPublishedBeforeACrashArePublishedAtStartOnce() async throws {
        try await Self.withService(before: { store in
            // What a process killed between its commits and its publishes leaves.
            _ = try await store.insert(Self.new("m1"), now: 1)
            _ = try await store.update("m1", ChatMessagePatch(text: "edited"), now: 2)
            _ = try await store.insert(Self.new("m2"), now: 3)
        }) { _, _, events, store in
            try await EventBusTests.eventually { try await store.unpublished(limit: 10).isEmpty }
            let log = try await Self.log(events)
            // Only each message's last change: m1's version 1 was superseded before it was published.
            #expect(log.map(\.event.eventID) == ["m1.v2", "m2.v1"])
            #expect(log.map(\.event.type) == ["message.updated", "message.sent"])
            #expect(log.map(\.event.partitionKey) == ["channel:general", "channel:general"])
            let data = try JSONObject(parsing: log[0].event.data)
            #expect(data["text"]?.string == "edited" && data["version"]?.int64 == 2)
        }
    }

    @Test func eachChangeIsPublishedAtOnceWithTheMessageAsData() async throws {
        try await Self.withService { service, _, events, store in
            let sent = try await service.send(Self.new("m1"))
            _ = try await service.update("m1", ChatMessagePatch(metadata: .some(#"{"a":1}"#)))
            _ = try await service.delete("m1")
            #expect(try await service.update("m1", ChatMessagePatch(text: "x")) == nil)
            let log = try await Self.log(events)
            #expect(log.map(\.event.eventID) == ["m1.v1", "m1.v2", "m1.v3"])
            #expect(log.map(\.event.type) == ["message.sent", "message.updated", "message.deleted"])
            #expect(String(buffer: log[0].event.data) == String(buffer: sent.json))
            #expect(try await store.unpublished(limit: 10).isEmpty)
        }
    }

    @Test func aChangeTheBusRefusedIsPublishedByTheSweepOnceItAccepts() async throws {
        try await Self.withService { service, bus, events, store in
            // A schema no message passes: the message is stored, its event refused.
            try await bus.saveSchema(#"{"type": "string"}"#, type: "message.sent")
            let sent = try await service.send(Self.new("m1"))
            #expect(try await service.message("m1") == sent)
            #expect(try await Self.log(events).isEmpty)
            #expect(try await store.unpublished(limit: 10).map(\.id) == ["m1"])
            _ = try await bus.removeSchema("message.sent")
            try await EventBusTests.eventually { try await store.unpublished(limit: 10).isEmpty }
            #expect(try await Self.log(events).map(\.event.eventID) == ["m1.v1"])
        }
    }
}
}

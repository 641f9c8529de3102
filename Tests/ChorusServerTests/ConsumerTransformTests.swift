import ChorusCore
import ChorusSQLite
import ChorusWasm
import Foundation
import NIOCore
import Synchronization
import Testing

@testable import ChorusServer

/// Event consumers behind a WebAssembly transform (docs/event-bus.md, "Transforms"): what each
/// outcome of the module means for a delivery, the definition's options, and the bus delivering
/// through the profanity example and test modules (keep, replace, drop, trap) over SQLite.
@Suite(.serialized) struct ConsumerTransformTests {
    private static let event = LoggedEvent(sequence: 7, event: Event(eventID: "e7", type: "chat.said", data: ByteBuffer(string: #"{"a":1}"#), timestamp: 1))

    private static func decision(_ result: Result<TransformOutcome, TransformFailure>, maxSize: Int = 64) -> EventTransformDecision {
        EventTransformDecision(TransformVerdict(result, data: Self.event.event.data, maxSize: maxSize, sizeOption: "events_max_data_size"), event: Self.event)
    }

    // MARK: Decisions

    @Test func keepDeliversTheEventAndReplaceItsNewData() {
        #expect(Self.decision(.success(.keep)) == .deliver(Self.event))
        var replaced = Self.event
        replaced.event.data = ByteBuffer(string: #"{"b":2}"#)
        #expect(Self.decision(.success(.replace(Array(#" {"b":2} "#.utf8)))) == .deliver(replaced))
        #expect(Self.decision(.success(.keep)).result == nil)
    }

    @Test func dropIsASucceededAttemptMarkedFiltered() throws {
        let decision = Self.decision(.success(.drop))
        #expect(decision == .filter)
        let result = try #require(decision.result)
        #expect(result.outcome == .succeeded && result.filtered && result.error == nil)
    }

    @Test func aFailedCallIsAFailedAttemptThatIsRetried() throws {
        let fuel = Self.decision(.failure(TransformFailure(.fuel, "out of fuel (the limit is 5)")))
        #expect(fuel == .fail("transform_failed: the transform failed: out of fuel (the limit is 5)"))
        let result = try #require(fuel.result)
        #expect(result.outcome == .failed() && !result.filtered)
        #expect(result.error == "transform_failed: the transform failed: out of fuel (the limit is 5)")
        #expect(Self.decision(.failure(TransformFailure(.trap, "unreachable"))) == .fail("transform_failed: the transform failed: unreachable"))
        #expect(Self.decision(.success(.replace(Array("{oops".utf8)))).result?.outcome == .failed())
        #expect(
            Self.decision(.success(.replace(Array("[1,2,3]".utf8))), maxSize: 4)
                == .fail("transform_failed: the transform's data is 7 bytes; the limit is 4 (events_max_data_size)"))
    }

    @Test func theModulesOwnRefusalDeadLettersAtOnce() throws {
        let refused = Self.decision(.success(.error("spam")))
        #expect(refused == .reject("transform_failed: the transform refused the message: spam"))
        #expect(try #require(refused.result).outcome == .rejected)
    }

    // MARK: Definitions

    static let examples = HubTransformTests.examples

    /// A module that drops data starting with `[`, traps on data starting with `"`, keeps the rest.
    static let sorter = TransformTestModule.wat(transform: """
        (if (i32.eq (i32.load8_u (local.get 4)) (i32.const 34)) (then unreachable))
        (i32.eq (i32.load8_u (local.get 4)) (i32.const 91))
        """)

    /// Writes `text` to a fresh `.wat` file; `body` gets its path.
    static func withModule<T>(_ text: String, _ body: (String) async throws -> T) async throws -> T {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-consumer-\(UUID().uuidString).wat").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await body(path)
    }

    static func consumer(_ transform: String, extra: String = "") throws -> EventConsumer {
        try EventBusTests.consumer("c", extra: #", "transform": \#(Self.quoted(transform))\#(extra)"#)
    }

    private static func quoted(_ text: String) -> String {
        var buffer = ByteBuffer()
        buffer.writeJSONString(text)
        return String(buffer: buffer)
    }

    private static func error(_ transform: String, extra: String = "") -> String? {
        do {
            _ = try Self.consumer(transform, extra: extra)
            return nil
        } catch {
            return (error as? ConfigurationError)?.message
        }
    }

    @Test func theDefinitionLoadsTheModuleWithItsLimits() async throws {
        try await Self.withModule(Self.sorter) { path in
            let consumer = try Self.consumer(path, extra: #", "transform_fuel": 500, "transform_max_pages": 2, "transform_max_output": 100"#)
            let limits = try #require(consumer.transform?.limits)
            #expect(limits == TransformLimits(fuel: 500, maxMemoryPages: 2, maxOutputBytes: 100))
            #expect(consumer.definition["transform"] as? String == path)
        }
        #expect(try EventBusTests.consumer("c").transform == nil)
    }

    @Test func aBadTransformIsRefusedNamingIt() throws {
        #expect(Self.error("/nonexistent/x.wat") == "consumer 'c': transform: /nonexistent/x.wat: cannot read the file")
        #expect(Self.error("/etc/hostname") == "consumer 'c': 'transform' must be the path of a .wasm or .wat file on the hub")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-dir-\(UUID().uuidString).wasm")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(Self.error(directory.path) == "consumer 'c': transform: \(directory.path): not a regular file")
        let example = Self.examples.appendingPathComponent("profanity.wat").path
        #expect(Self.error(example, extra: #", "transform_fuel": 0"#) == "consumer 'c': 'transform_fuel' must be a whole number from 1 to \(Int.max)")
        // Limits without a module are checked, and unused.
        #expect(try EventBusTests.consumer("c", extra: #", "transform_fuel": 5"#).transform == nil)
    }

    // MARK: The bus

    static func publish(_ bus: EventBus, _ id: String, _ data: String) async throws {
        _ = try await bus.publish(EventPublish(type: "order.created", data: ByteBuffer(string: data), eventID: id))
    }

    @Test func theTargetGetsTheProfanityFiltersOutput() async throws {
        let seen = LockedEvents()
        let recording = EventBusTests.FakeTarget { event, _ in
            seen.append(event)
            return .succeeded
        }
        let consumer = try Self.consumer(Self.examples.appendingPathComponent("profanity.wat").path)
        try await EventBusTests.withBus(consumers: [consumer], target: recording) { bus, store in
            try await Self.publish(bus, "clean", #"{"text":"hello"}"#)
            try await Self.publish(bus, "rude", #"{"text":"oh darn it"}"#)
            try await EventBusTests.eventually { seen.events.count == 2 }
            // Events without a partition key are delivered side by side, in any order.
            let data = Dictionary(uniqueKeysWithValues: seen.events.map { ($0.event.eventID, String(buffer: $0.event.data)) })
            #expect(data == ["clean": #"{"text":"hello"}"#, "rude": #"{"text":"oh *** it"}"#])
            // The log keeps what was published: the transform is the consumer's view.
            let logged = try await store.events(EventQuery(afterSequence: 0, order: .oldestFirst, limit: 10))
            #expect(String(buffer: logged[1].event.data) == #"{"text":"oh darn it"}"#)
        }
    }

    @Test func droppedEventsAreAcknowledgedAndATrapEndsInTheDeadLetterQueue() async throws {
        let target = EventBusTests.FakeTarget()
        try await Self.withModule(Self.sorter) { path in
            try await EventBusTests.withBus(consumers: [try Self.consumer(path)], target: target) { bus, store in
                try await Self.publish(bus, "kept", #"{"n":1}"#)
                try await Self.publish(bus, "dropped", #"[1]"#)
                try await Self.publish(bus, "trapped", #""x""#)
                try await EventBusTests.eventually {
                    let state = try await store.consumerStates().first
                    return state?.pending == 0 && state?.deadLettered == 1
                }
                // Only the kept event reached the target; the dropped one is done, not dead-lettered.
                #expect(target.recorded.map(\.eventID) == ["kept"])
                let letters = try await store.deadLetters(consumer: "c", afterID: nil, limit: 10)
                #expect(letters.map(\.event.event.eventID) == ["trapped"])
                // Every attempt (three, by the retry list of two delays) failed in the module.
                #expect(letters.first?.attempts.map(\.error) == Array(repeating: "transform_failed: the transform failed: unreachable", count: 3))
                let counts = bus.metrics.snapshot.perConsumer["c"] ?? [:]
                #expect(counts[.filtered] == 1 && counts[.delivered] == 1 && counts[.deadLettered] == 1 && counts[.failed] == 3)
            }
        }
    }
}

/// Events a fake target saw, in order.
final class LockedEvents: Sendable {
    private let list = Mutex<[LoggedEvent]>([])
    func append(_ event: LoggedEvent) { self.list.withLock { $0.append(event) } }
    var events: [LoggedEvent] { self.list.withLock { $0 } }
}

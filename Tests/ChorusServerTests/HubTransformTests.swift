import ChorusCore
import ChorusTestSupport
import ChorusWasm
import Foundation
import MetricsTestKit
import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import ChorusServer

/// A namespace's transform on the publish path: what reaches the broker is the transformed
/// data; a drop or a failure reaches nothing; other namespaces go untouched.
@Suite struct HubTransformTests {
    static let examples = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples/wasm")

    struct Setup {
        let hub: Hub
        let broker: RecordingBroker
        let metrics = TestMetrics()
        let directory: URL

        init() throws {
            self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-hub-wasm-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
            // Drops event "drop"; loops forever on any other event but "message".
            let failing = self.directory.appendingPathComponent("failing.wat")
            try TransformTestModule.wat(transform: """
                (if (i32.eq (i32.load8_u (local.get 2)) (i32.const 100)) (then (return (i32.const 1))))
                (if (i32.ne (i32.load8_u (local.get 2)) (i32.const 109)) (then (loop $l (br $l))))
                (i32.const 0)
            """).write(to: failing, atomically: true, encoding: .utf8)
            var configuration = HubConfiguration()
            configuration.namespaces = [
                "clean": NamespaceOptions(transform: HubTransformTests.examples.appendingPathComponent("profanity.wat").path),
                "fail": NamespaceOptions(transform: failing.path, transformLimits: .init(fuel: 10_000)),
            ]
            let recording = RecordingBroker()
            self.broker = recording
            self.hub = try Hub(
                configuration: configuration, eventLoopGroup: EmbeddedEventLoop(), authenticator: Authenticator(configuration: configuration),
                broker: { _ in recording }, metricsFactory: self.metrics)
        }

        func published() -> [String] {
            self.broker.calls.flatMap { $0 }.map { String(buffer: $0.envelope.data) }
        }

        func calls(_ namespace: String, _ outcome: String) throws -> Int64 {
            try self.metrics.expectCounter("chorus_transform_calls_total", [("namespace", namespace), ("outcome", outcome)]).totalValue
        }
    }

    @Test func theTransformedDataIsWhatIsPublished() throws {
        let setup = try Setup()
        defer { try? FileManager.default.removeItem(at: setup.directory) }
        try setup.hub.publish(topic: Topic("clean:a"), event: nil, data: ByteBuffer(string: #"{"t":"heck"}"#))
        try setup.hub.publish(topic: Topic("clean:a"), event: nil, data: ByteBuffer(string: #"{"t":"ok"}"#))
        try setup.hub.publish(topic: Topic("plain:a"), event: nil, data: ByteBuffer(string: #"{"t":"heck"}"#))
        #expect(setup.published() == [#"{"t":"***"}"#, #"{"t":"ok"}"#, #"{"t":"heck"}"#])
        #expect(try setup.calls("clean", "replace") == 1)
        #expect(try setup.calls("clean", "keep") == 1)
    }

    @Test func aDropIsReceiptedAndAFailureThrowsWithNothingPublished() throws {
        let setup = try Setup()
        defer { try? FileManager.default.removeItem(at: setup.directory) }
        let receipt = Mutex<Hub.Receipt?>(nil)
        try setup.hub.publish(topic: Topic("fail:a"), event: "drop", data: ByteBuffer(string: "1")) { result in
            receipt.withLock { $0 = try? result.get() }
        }
        #expect(receipt.withLock { $0?.dropped } == true)
        let error = try #require(throws: ProtocolError.self) {
            try setup.hub.publish(topic: Topic("fail:a"), event: "spin", data: ByteBuffer(string: "1"))
        }
        #expect(error.code == .transformFailed)
        #expect(error.message == "the transform failed: out of fuel (the limit is 10000)")
        try setup.hub.publish(topic: Topic("fail:a"), event: nil, data: ByteBuffer(string: "2"))
        #expect(setup.published() == ["2"])
        #expect(try setup.calls("fail", "drop") == 1)
        #expect(try setup.calls("fail", "fuel") == 1)
        #expect(try setup.calls("fail", "keep") == 1)
    }

    @Test func aModuleThatCannotLoadStopsTheHub() throws {
        var configuration = HubConfiguration()
        configuration.namespaces = ["x": NamespaceOptions(transform: "/nonexistent/x.wasm")]
        let error = try #require(throws: ConfigurationError.self) {
            try Hub(configuration: configuration, eventLoopGroup: EmbeddedEventLoop(), authenticator: Authenticator(configuration: configuration))
        }
        #expect(error.message == "namespace 'x': transform: /nonexistent/x.wasm: cannot read the file")
    }

    @Test func transformOptionsAreReadAndChecked() throws {
        let configuration = try HubConfiguration.load(
            arguments: ["--namespaces", #"{"a": {"transform": "/m.wat", "transform_fuel": 500, "transform_max_pages": 2, "transform_max_output": 1024}}"#],
            environment: [:])
        #expect(configuration.namespaces["a"] == NamespaceOptions(transform: "/m.wat", transformLimits: .init(fuel: 500, maxMemoryPages: 2, maxOutputBytes: 1024)))
        #expect(NamespaceOptions.describe(configuration.namespaces)
            == #"{"a": {"history_size": 0, "transform": "/m.wat", "transform_fuel": 500, "transform_max_pages": 2, "transform_max_output": 1024}}"#)
        for (options, message) in [
            (#"{"a": {"transform": ""}}"#, "transform must be the path of a .wasm or .wat file"),
            (#"{"a": {"transform_fuel": 0}}"#, "transform_fuel must be a whole number from 1"),
            (#"{"a": {"transform_max_pages": 65537}}"#, "transform_max_pages must be a whole number from 1 to 65536"),
            (#"{"a": {"transform_max_output": "big"}}"#, "transform_max_output must be a whole number"),
        ] {
            let error = try #require(throws: ConfigurationError.self) { try HubConfiguration.load(arguments: ["--namespaces", options], environment: [:]) }
            #expect(error.message.contains(message), "\(options)")
        }
    }
}

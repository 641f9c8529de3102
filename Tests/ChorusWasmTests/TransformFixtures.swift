import ChorusWasm
import Foundation

/// Modules for the tests: the examples from examples/wasm, and small ABI modules whose
/// `chorus_transform` body a test writes.
enum TransformFixtures {
    static let examples = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples/wasm")

    static func example(_ name: String, limits: TransformLimits = TransformLimits()) throws -> TransformModule {
        try TransformModule(contentsOfFile: examples.appendingPathComponent(name).path, limits: limits)
    }

    /// An ABI module: memory of `pages`, input at 1024, output text `output` at 16, and `body`
    /// as `chorus_transform` (its parameters are $tp $tl $ep $el $dp $dl).
    static func wat(body: String, output: String = "", pages: Int = 1, version: Int = 1, extra: String = "") -> String {
        """
        (module
          (memory (export "memory") \(pages))
          (data (i32.const 16) "\(output.replacingOccurrences(of: "\"", with: "\\\""))")
          (global $out (mut i64) (i64.const \(16 << 32 | output.utf8.count)))
          (func (export "chorus_abi_version") (result i32) (i32.const \(version)))
          (func (export "chorus_alloc") (param i32) (result i32) (i32.const 1024))
          (func (export "chorus_output") (result i64) (global.get $out))
          (func (export "chorus_transform") (param $tp i32) (param $tl i32) (param $ep i32) (param $el i32) (param $dp i32) (param $dl i32) (result i32)
            \(body))
          \(extra)
        )
        """
    }

    static func module(body: String, output: String = "", limits: TransformLimits = TransformLimits(), extra: String = "") throws -> TransformModule {
        try TransformModule(wat: wat(body: body, output: output, extra: extra), limits: limits)
    }
}

extension TransformInstance {
    /// Runs on text data.
    func run(topic: String = "chat:room", event: String = "message", _ data: String) throws(TransformFailure) -> TransformOutcome {
        var data = data
        let result = data.withUTF8 { bytes in
            Result { () throws(TransformFailure) in try self.run(topic: topic, event: event, data: UnsafeRawBufferPointer(bytes)) }
        }
        return try result.get()
    }
}

extension TransformOutcome {
    /// The replacement as text, for assertions.
    var replacementText: String? {
        if case .replace(let bytes) = self { return String(decoding: bytes, as: UTF8.self) }
        return nil
    }
}

import ChorusWasm
import Foundation
import Testing

/// Slots run one version per message; reloads swap every slot; a failed call or a broken
/// new module leaves the transform working.
@Suite struct TransformReloadTests {
    private func run(_ slot: TransformSlot, _ data: String) -> Result<TransformOutcome, TransformFailure> {
        var data = data
        return data.withUTF8 { slot.run(topic: "chat:room", event: "message", data: UnsafeRawBufferPointer($0)) }
    }

    @Test func aSlotStartsAFreshInstanceAfterAFailedCall() throws {
        // Traps on the second call of an instance (a global counts calls): a fresh instance
        // after the trap succeeds again.
        let module = try TransformFixtures.module(
            body: """
                (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
                (if (i32.eq (global.get $calls) (i32.const 2)) (then unreachable))
                (i32.const 0)
                """,
            extra: "(global $calls (mut i32) (i32.const 0))")
        let slot = TransformSlot(module: module)
        #expect(try run(slot, "1").get() == .keep)
        #expect(throws: TransformFailure.self) { try run(slot, "1").get() }
        #expect(try run(slot, "1").get() == .keep)
    }

    @Test func reloadSwapsEverySlotToTheNewVersion() throws {
        let old = try TransformFixtures.module(body: "(i32.const 2)", output: "\"old\"")
        let new = try TransformFixtures.module(body: "(i32.const 2)", output: "\"new\"")
        let transform = LoadedTransform(module: old, path: nil, loops: 2)
        for index in [0, 1, nil] { #expect(try run(transform.slot(index), "1").get().replacementText == "\"old\"") }
        try transform.reload(new)
        for index in [0, 1, nil] { #expect(try run(transform.slot(index), "1").get().replacementText == "\"new\"") }
        // A caller on no event loop takes a free slot.
        var data = "1"
        let offLoop = data.withUTF8 { transform.run(onLoop: nil, topic: "chat:room", event: "message", data: UnsafeRawBufferPointer($0)) }
        #expect(try offLoop.get().replacementText == "\"new\"")
    }

    @Test func aChangedFileIsReloadedAndABrokenOneKeepsTheOldModule() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-wasm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("t.wat").path
        func write(_ text: String, modified seconds: TimeInterval) throws {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: seconds)], ofItemAtPath: path)
        }
        try write(TransformFixtures.wat(body: "(i32.const 2)", output: "\"v1\""), modified: 1_000)
        let transform = LoadedTransform(module: try TransformModule(contentsOfFile: path, limits: TransformLimits()), path: path, loops: 1)
        #expect(transform.reloadFile() == .unchanged)

        try write(TransformFixtures.wat(body: "(i32.const 2)", output: "\"v2\""), modified: 2_000)
        #expect(transform.reloadFile() == .reloaded)
        #expect(try run(transform.slot(0), "1").get().replacementText == "\"v2\"")

        try write("(module (memory (export \"memory\") 1))", modified: 3_000)
        #expect(transform.reloadFile() == .failed(TransformLoadError("\(path): does not export the function 'chorus_abi_version'")))
        #expect(transform.reloadFile() == .unchanged)
        #expect(try run(transform.slot(0), "1").get().replacementText == "\"v2\"")

        // SIGHUP reloads whether or not the file changed.
        try write(TransformFixtures.wat(body: "(i32.const 1)"), modified: 3_000)
        #expect(transform.reloadFile(force: true) == .reloaded)
        #expect(try run(transform.slot(0), "1").get() == .drop)
    }
}

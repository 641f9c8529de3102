import ChorusWasm
import Foundation
import Testing

/// A module is checked against the ABI when it is loaded; a call's outcome is read back.
@Suite struct TransformABITests {
    @Test func outcomesComeFromTheStatusAndTheOutputArea() throws {
        #expect(try TransformFixtures.module(body: "(i32.const 0)").instantiate().run("1") == .keep)
        #expect(try TransformFixtures.module(body: "(i32.const 1)").instantiate().run("1") == .drop)
        #expect(try TransformFixtures.module(body: "(i32.const 2)", output: #"{"x":1}"#).instantiate().run("1").replacementText == #"{"x":1}"#)
        #expect(try TransformFixtures.module(body: "(i32.const 3)", output: "no links").instantiate().run("1") == .error("no links"))
    }

    @Test func topicEventAndDataArriveAtTheGivenPointers() throws {
        // Replaces the data with the input region as laid out: topic, event, data back to back.
        let module = try TransformFixtures.module(
            body: """
                (global.set $out (i64.or (i64.shl (i64.extend_i32_u (local.get $tp)) (i64.const 32))
                  (i64.extend_i32_u (i32.add (i32.add (local.get $tl) (local.get $el)) (local.get $dl)))))
                (if (i32.ne (local.get $ep) (i32.add (local.get $tp) (local.get $tl))) (then unreachable))
                (if (i32.ne (local.get $dp) (i32.add (local.get $ep) (local.get $el))) (then unreachable))
                (i32.const 2)
                """)
        #expect(try module.instantiate().run(topic: "a:b", event: "ev", "[1]").replacementText == "a:bev[1]")
    }

    @Test(arguments: [
        ("(module)", "does not export its memory as 'memory'"),
        (#"(module (memory (export "memory") 1))"#, "does not export the function 'chorus_abi_version'"),
        (#"(module (import "env" "f" (func)) (memory (export "memory") 1))"#, "imports env.f; a transform module may import nothing"),
    ])
    func modulesWithoutTheABIAreRefused(wat: String, message: String) {
        #expect(throws: TransformLoadError("<wat>: \(message)")) { try TransformModule(wat: wat, limits: TransformLimits()) }
    }

    @Test func wrongSignatureAndVersionAreRefused() {
        let wrongSignature = TransformFixtures.wat(body: "(i32.const 0)").replacingOccurrences(
            of: #"(func (export "chorus_alloc") (param i32) (result i32) (i32.const 1024))"#,
            with: #"(func (export "chorus_alloc") (param i64) (result i32) (i32.const 1024))"#)
        #expect(throws: TransformLoadError("<wat>: 'chorus_alloc' must take 1 i32 and return one i32")) {
            try TransformModule(wat: wrongSignature, limits: TransformLimits())
        }
        #expect(throws: TransformLoadError("<wat>: chorus_abi_version returned i32(2); this hub speaks ABI version 1")) {
            try TransformModule(wat: TransformFixtures.wat(body: "(i32.const 0)", version: 2), limits: TransformLimits())
        }
    }

    @Test func aMemoryStartingAboveThePageLimitIsRefused() {
        #expect(throws: TransformLoadError("<wat>: its memory starts at 4 pages; the limit is 2")) {
            try TransformModule(wat: TransformFixtures.wat(body: "(i32.const 0)", pages: 4), limits: TransformLimits(maxMemoryPages: 2))
        }
    }

    @Test func textAndBytesThatAreNotModulesAreRefused() throws {
        let notWAT = try #require(throws: TransformLoadError.self) { try TransformModule(wat: "(module (func $f (i32.nope)))", limits: TransformLimits()) }
        #expect(notWAT.message.hasPrefix("<wat>: not valid WebAssembly text"))
        let notWasm = try #require(throws: TransformLoadError.self) { try TransformModule(wasm: Array("hello".utf8), limits: TransformLimits()) }
        #expect(notWasm.message.hasPrefix("<wasm>: not a valid WebAssembly module"))
        let missing = try #require(throws: TransformLoadError.self) { try TransformModule(contentsOfFile: "/nonexistent/t.wasm", limits: TransformLimits()) }
        #expect(missing.message == "/nonexistent/t.wasm: cannot read the file")
    }
}

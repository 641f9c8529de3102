import ChorusWasm
import Testing

/// Every call runs within its fuel, memory and output limits; breaking one fails that call only.
@Suite struct TransformLimitTests {
    @Test func anInfiniteLoopStopsOnFuel() throws {
        let module = try TransformFixtures.module(body: "(loop $forever (br $forever)) (i32.const 0)", limits: TransformLimits(fuel: 100_000))
        let failure = try #require(throws: TransformFailure.self) { try module.instantiate().run("1") }
        #expect(failure == TransformFailure(.fuel, "out of fuel (the limit is 100000)"))
    }

    @Test func aStartFunctionThatNeverEndsStopsOnFuelAtLoad() {
        let wat = TransformFixtures.wat(body: "(i32.const 0)", extra: "(func $spin (loop $l (br $l))) (start $spin)")
        #expect(throws: TransformLoadError("<wat>: cannot instantiate: out of fuel")) {
            try TransformModule(wat: wat, limits: TransformLimits(fuel: 1000))
        }
    }

    @Test func aMemoryGrabStopsOnPages() throws {
        // Grows one page at a time, forever, ignoring failures.
        let module = try TransformFixtures.module(
            body: "(loop $more (drop (memory.grow (i32.const 1))) (br $more)) (i32.const 0)",
            limits: TransformLimits(maxMemoryPages: 4))
        let failure = try #require(throws: TransformFailure.self) { try module.instantiate().run("1") }
        #expect(failure == TransformFailure(.memory, "memory.grow to 5 pages refused: the limit is 4 pages"))
    }

    @Test func aTrapFailsTheCallWithItsReason() throws {
        let module = try TransformFixtures.module(body: "unreachable")
        let failure = try #require(throws: TransformFailure.self) { try module.instantiate().run("1") }
        #expect(failure.kind == .trap)
        #expect(failure.reason.contains("unreachable"))
    }

    @Test func badOutputIsRefused() throws {
        let unknownStatus = try TransformFixtures.module(body: "(i32.const 7)")
        #expect(throws: TransformFailure(.badOutput, "chorus_transform returned 7, not a status (0 keep, 1 drop, 2 replace, 3 error)")) {
            try unknownStatus.instantiate().run("1")
        }
        let outside = try TransformFixtures.module(body: "(global.set $out (i64.const 0x0000fff000000100)) (i32.const 2)")
        #expect(throws: TransformFailure(.badOutput, "chorus_output points at 65520+256, outside the module's memory (65536 bytes)")) {
            try outside.instantiate().run("1")
        }
        let tooLong = try TransformFixtures.module(body: "(i32.const 2)", output: "[1,2,3]", limits: TransformLimits(maxOutputBytes: 4))
        #expect(throws: TransformFailure(.badOutput, "the output is 7 bytes; the limit is 4")) { try tooLong.instantiate().run("1") }
    }

    @Test func anAllocationOutsideMemoryIsRefused() throws {
        let module = try TransformFixtures.module(body: "(i32.const 0)")
        let data = String(repeating: "1", count: 70_000)
        #expect(throws: TransformFailure(.badOutput, "chorus_alloc points at 1024+70016, outside the module's memory (65536 bytes)")) {
            try module.instantiate().run(topic: "chat:room", event: "message", data)
        }
    }
}

import ChorusWasm
import Testing

/// The examples in examples/wasm, compiled from their WAT by WasmKit's parser.
@Suite struct TransformExampleTests {
    @Test func profanityFilterStarsListedWordsInAnyCase() throws {
        let instance = try TransformFixtures.example("profanity.wat").instantiate()
        #expect(try instance.run(#"{"text":"Darn, what the heck"}"#).replacementText == #"{"text":"***, what the ***"}"#)
        #expect(try instance.run(#"{"text":"all fine"}"#) == .keep)
        #expect(try instance.run(#"{"text":"drats"}"#).replacementText == #"{"text":"***"}"#)
    }

    @Test func redactorMasksStringNumberAndNestedFields() throws {
        let instance = try TransformFixtures.example("redact.wat").instantiate()
        let data = #"{"name": "Ann", "email": "ann@example.com", "card": 4111111111111111, "pay": {"password" : "s\"x"}}"#
        #expect(try instance.run(data).replacementText == #"{"name": "Ann", "email":"***", "card":"***", "pay": {"password" :"***"}}"#)
        #expect(try instance.run(#"{"name":"email"}"#) == .keep)
        #expect(try instance.run(#"["email", 1]"#) == .keep)
    }

    @Test func enricherAddsLengthAndTopicToObjects() throws {
        let instance = try TransformFixtures.example("enrich.wat").instantiate()
        #expect(try instance.run(topic: "chat:room", #"{"a": 1}"#).replacementText == #"{"len":8,"topic":"chat:room","a": 1}"#)
        #expect(try instance.run(topic: "t", " { } ").replacementText == #"{"len":5,"topic":"t"} "#)
        #expect(try instance.run("[1,2]") == .keep)
        #expect(try instance.run("42") == .keep)
    }

    @Test func examplesHandleDataLargerThanTheirFirstPage() throws {
        let text = String(repeating: "heck ", count: 10_000)
        let instance = try TransformFixtures.example("profanity.wat", limits: TransformLimits(fuel: 100_000_000)).instantiate()
        let replaced = try instance.run("\"\(text)\"").replacementText
        #expect(replaced == "\"\(String(repeating: "*** ", count: 10_000))\"")
    }
}

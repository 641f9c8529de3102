import ChorusCore
import NIOCore
import Testing

/// `RawJSON(validating:)` takes exactly one JSON value of any kind, as a transform's replacement data.
@Suite struct RawJSONValidatingTests {
    @Test(arguments: [
        (#" {"a": [1, "x"]} "#, RawJSON.Kind.object, #"{"a": [1, "x"]}"#),
        ("[1,2]", .array, "[1,2]"),
        (#""s""#, .string, #""s""#),
        ("\n-1.5e3\t", .number, "-1.5e3"),
        ("true", .bool, "true"),
        ("null", .null, "null"),
    ])
    func oneValueIsKeptWithoutItsWhitespace(text: String, kind: RawJSON.Kind, bytes: String) throws {
        let value = try RawJSON(validating: ByteBuffer(string: text))
        #expect(value.kind == kind)
        #expect(String(buffer: value.bytes) == bytes)
    }

    @Test(arguments: ["", "  ", "{", "1 2", "{not json", "[1,]", #""unterminated"#, "[[[1]]]"])
    func anythingElseIsRefused(text: String) {
        #expect(throws: JSONError.self) { try RawJSON(validating: ByteBuffer(string: text), maxDepth: 2) }
    }
}

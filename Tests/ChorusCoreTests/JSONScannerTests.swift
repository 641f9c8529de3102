import NIOCore
import Testing

@testable import ChorusCore

private func parse(_ text: String, maxDepth: Int = 64) throws(JSONError) -> JSONObject {
    try JSONObject(parsing: ByteBuffer(string: text), maxDepth: maxDepth)
}

private func parse(bytes: [UInt8], maxDepth: Int = 64) throws(JSONError) -> JSONObject {
    try JSONObject(parsing: ByteBuffer(bytes: bytes), maxDepth: maxDepth)
}

/// `{"a":` followed by `levels` nested arrays around a number, so the innermost array sits at depth `levels + 1`.
private func nestedArrays(levels: Int) -> String {
    "{\"a\":" + String(repeating: "[", count: levels) + "1" + String(repeating: "]", count: levels) + "}"
}

@Suite struct JSONScannerValidTests {
    @Test func publishFrame() throws {
        let frame = try parse(#"{"type":"publish","id":7,"topic":"chat:general","event":"msg","data":{"text":"hi"}}"#)
        #expect(frame["type"]?.string == "publish")
        #expect(frame["id"]?.int64 == 7)
        #expect(frame["topic"]?.string == "chat:general")
        #expect(frame["event"]?.string == "msg")
        #expect(frame["data"]?.kind == .object)
        #expect(frame["data"]?.bytes == ByteBuffer(string: #"{"text":"hi"}"#))
        #expect(frame["missing"] == nil)
        #expect(frame.keys == ["type", "id", "topic", "event", "data"])
        #expect(frame.count == 5)
    }

    @Test func nestedValuesKeepTheirExactBytes() throws {
        let data = "{ \"a\" :\t[1 ,2,\n{\"b\" :null} ]\r}"
        let object = try parse("{\"data\":   \(data) , \"list\" : [ {} , [ ] ,\"x\" ]}")

        let rawData = try #require(object["data"])
        #expect(rawData.kind == .object)
        #expect(rawData.bytes == ByteBuffer(string: data))
        #expect(object["list"]?.kind == .array)
        #expect(object["list"]?.bytes == ByteBuffer(string: #"[ {} , [ ] ,"x" ]"#))

        let nested = try rawData.object()
        #expect(nested["a"]?.kind == .array)
        #expect(nested["a"]?.bytes == ByteBuffer(string: "[1 ,2,\n{\"b\" :null} ]"))
    }

    @Test func arrayElementsKeepTheirKindsAndExactBytes() throws {
        let object = try parse(#"{"list": [ "a\u0062" ,-1.5e3,{"k" : [2]} , [ ], true,null ], "empty":[ ], "s":"x"}"#)
        let elements = try #require(object["list"]?.elements)
        #expect(elements.map(\.kind) == [.string, .number, .object, .array, .bool, .null])
        #expect(elements[0].string == "ab")
        #expect(elements[1].double == -1500)
        #expect(elements[2].bytes == ByteBuffer(string: #"{"k" : [2]}"#))
        #expect(try elements[2].object()["k"]?.elements?.first?.int64 == 2)
        #expect(elements[3].elements?.isEmpty == true)
        #expect(object["empty"]?.elements?.isEmpty == true)
        #expect(object["s"]?.elements == nil)
    }

    @Test func valuesAreSlicesOfTheInput() throws {
        let input = ByteBuffer(string: #"{"data":{"text":"hi"}}"#)
        let data = try #require(try JSONObject(parsing: input)["data"])
        let inputStart = input.withUnsafeReadableBytes { $0.baseAddress! }
        let dataStart = data.bytes.withUnsafeReadableBytes { $0.baseAddress! }
        #expect(dataStart == inputStart + 8)
    }

    @Test func parsingHonoursTheReaderIndex() throws {
        var buffer = ByteBuffer(string: #"xxx{"a":"b"}"#)
        buffer.moveReaderIndex(forwardBy: 3)
        let object = try JSONObject(parsing: buffer)
        #expect(object["a"]?.string == "b")
        #expect(object["a"]?.bytes == ByteBuffer(string: #""b""#))
    }

    @Test func accessorsMatchTheirKindOnly() throws {
        let object = try parse(#"{"s":"text","n":42,"f":1.5,"t":true,"F":false,"z":null,"o":{"k":1},"a":[1]}"#)
        let string = try #require(object["s"])
        let number = try #require(object["n"])
        let fraction = try #require(object["f"])
        let yes = try #require(object["t"])
        let no = try #require(object["F"])
        let null = try #require(object["z"])
        let nested = try #require(object["o"])
        let array = try #require(object["a"])

        #expect(string.kind == .string)
        #expect(string.string == "text")
        #expect(string.int64 == nil && string.double == nil && string.bool == nil && !string.isNull)

        #expect(number.kind == .number)
        #expect(number.int64 == 42)
        #expect(number.double == 42)
        #expect(number.string == nil && number.bool == nil && !number.isNull)

        #expect(fraction.int64 == nil)
        #expect(fraction.double == 1.5)

        #expect(yes.kind == .bool && yes.bool == true)
        #expect(no.kind == .bool && no.bool == false)
        #expect(yes.string == nil && yes.int64 == nil && !yes.isNull)

        #expect(null.kind == .null && null.isNull)
        #expect(null.string == nil && null.bool == nil && null.int64 == nil && null.double == nil)

        #expect(nested.kind == .object && nested.string == nil)
        #expect(try nested.object()["k"]?.int64 == 1)
        #expect(array.kind == .array && array.int64 == nil)
        #expect(throws: JSONError.notAnObject) { try array.object() }
        #expect(throws: JSONError.notAnObject) { try string.object() }
    }

    @Test func rawValuesCompareByKindAndBytes() throws {
        let object = try parse(#"{"a":[1, 2],"b":[1, 2],"c":[1,2],"d":"x","e":"x"}"#)
        #expect(object["a"] == object["b"])
        #expect(object["a"] != object["c"])
        #expect(object["d"] == object["e"])
        #expect(Set([object["a"], object["b"], object["c"]]).count == 2)
    }

    @Test(arguments: [
        (#""\"\\\/\b\f\n\r\t""#, "\"\\/\u{08}\u{0C}\n\r\t"),
        (#""\u0041\u00e9\u20AC\u0000""#, "Aé€\u{0}"),
        (#""\ud83d\ude00""#, "😀"),
        (#""\uD83D\uDE00 and \uDBFF\uDFFF""#, "😀 and \u{10FFFF}"),
        (#""mixed é😀 \u00e9""#, "mixed é😀 é"),
        (#""""#, ""),
    ])
    func stringEscapesDecode(json: String, expected: String) throws {
        let value = try parse("{\"s\":\(json)}")["s"]
        #expect(value?.string == expected)
        #expect(value?.bytes == ByteBuffer(string: json))
    }

    @Test(
        arguments: [
            ("0", Int64(0), 0.0),
            ("-0", Int64(0), -0.0),
            ("-12", Int64(-12), -12.0),
            ("1e10", nil, 1e10),
            ("1.5E-3", nil, 1.5e-3),
            ("1E+2", nil, 100.0),
            ("-1.0", nil, -1.0),
            ("0.25e1", nil, 2.5),
            ("9223372036854775807", Int64.max, 9223372036854775807.0),
            ("-9223372036854775808", Int64.min, -9223372036854775808.0),
            ("9223372036854775808", nil, 9223372036854775808.0),
            ("-9223372036854775809", nil, -9223372036854775809.0),
            ("123456789012345678901234567890", nil, 123456789012345678901234567890.0),
            ("1e400", nil, .infinity),
            ("-1e-400", nil, -0.0),
        ] as [(String, Int64?, Double)]
    )
    func numbers(json: String, int64: Int64?, double: Double) throws {
        let value = try #require(try parse("{\"n\":\(json)}")["n"])
        #expect(value.kind == .number)
        #expect(value.bytes == ByteBuffer(string: json))
        #expect(value.int64 == int64)
        #expect(value.double == double)
        #expect(value.double?.sign == double.sign)
    }

    @Test func duplicateKeysLastOneWins() throws {
        let object = try parse(#"{"a":1,"b":true,"a":"two"}"#)
        #expect(object["a"]?.string == "two")
        #expect(object["b"]?.bool == true)
        #expect(object.keys == ["a", "b", "a"])
        #expect(object.count == 3)
    }

    @Test func unicodeAndEscapedKeys() throws {
        let object = try parse(#"{"ключ":1,"😀":2,"k\u0065y":3,"\ud83d\ude00\n":4,"":5}"#)
        #expect(object["ключ"]?.int64 == 1)
        #expect(object["😀"]?.int64 == 2)
        #expect(object["key"]?.int64 == 3)
        #expect(object["😀\n"]?.int64 == 4)
        #expect(object[""]?.int64 == 5)
        #expect(object.keys == ["ключ", "😀", "key", "😀\n", ""])
    }

    @Test(arguments: ["{}", " \t\r\n{ \t\r\n} \t\r\n", "{\"a\" \n:\r 1 \t}"])
    func whitespaceAroundStructure(json: String) throws {
        #expect(throws: Never.self) { try parse(json) }
    }

    @Test func literalsAndNumbersEndingTheInnerValues() throws {
        let object = try parse(#"{"a":[true,false,null,0,-1.5e+3],"b":{"c":0}}"#)
        #expect(object["a"]?.bytes == ByteBuffer(string: "[true,false,null,0,-1.5e+3]"))
        #expect(try object["b"]?.object()["c"]?.int64 == 0)
    }
}

@Suite struct JSONScannerInvalidTests {
    /// An input that breaks one strictness rule, with the part of the error message that names it.
    struct InvalidJSON: Sendable, CustomTestStringConvertible {
        let rule: String
        let bytes: [UInt8]
        let reason: String

        init(_ rule: String, _ text: String, _ reason: String) {
            self.init(rule, Array(text.utf8), reason)
        }

        init(_ rule: String, _ bytes: [UInt8], _ reason: String) {
            self.rule = rule
            self.bytes = bytes
            self.reason = reason
        }

        var testDescription: String { self.rule }
    }

    /// `{"s":"` + bytes + `"}`, for testing string contents.
    private static func stringValue(_ bytes: [UInt8]) -> [UInt8] {
        Array(#"{"s":""#.utf8) + bytes + Array(#""}"#.utf8)
    }

    static let cases: [InvalidJSON] = [
        InvalidJSON("trailing comma in object", #"{"a":1,}"#, "expected a string key"),
        InvalidJSON("trailing comma in nested object", #"{"a":{"b":1,}}"#, "expected a string key"),
        InvalidJSON("trailing comma in array", #"{"a":[1,]}"#, "expected a value"),
        InvalidJSON("leading comma in array", #"{"a":[,1]}"#, "expected a value"),
        InvalidJSON("empty member", #"{"a":1,,"b":2}"#, "expected a string key"),
        InvalidJSON("single-quoted key", "{'a':1}", "expected a string key"),
        InvalidJSON("single-quoted value", "{\"a\":'x'}", "expected a value"),
        InvalidJSON("unquoted key", "{a:1}", "expected a string key"),
        InvalidJSON("non-string key", "{1:1}", "expected a string key"),
        InvalidJSON("missing colon", #"{"a" 1}"#, "expected ':'"),
        InvalidJSON("missing comma", #"{"a":1 "b":2}"#, "expected ',' or '}'"),
        InvalidJSON("missing comma in array", #"{"a":[1 2]}"#, "expected ',' or ']'"),
        InvalidJSON("missing value", #"{"a":}"#, "expected a value"),
        InvalidJSON("mismatched bracket", #"{"a":[1}"#, "expected ',' or ']'"),
        InvalidJSON("mismatched brace", #"{"a":{"b":1]}"#, "expected ',' or '}'"),
        InvalidJSON("NaN", #"{"a":NaN}"#, "expected a value"),
        InvalidJSON("Infinity", #"{"a":Infinity}"#, "expected a value"),
        InvalidJSON("negative Infinity", #"{"a":-Infinity}"#, "expected a digit"),
        InvalidJSON("leading zero", #"{"a":01}"#, "leading zeros"),
        InvalidJSON("negative leading zero", #"{"a":-00}"#, "leading zeros"),
        InvalidJSON("plus sign", #"{"a":+1}"#, "expected a value"),
        InvalidJSON("fraction without integer part", #"{"a":.5}"#, "expected a value"),
        InvalidJSON("fraction without digits", #"{"a":1.}"#, "expected a digit"),
        InvalidJSON("fraction without digits before exponent", #"{"a":1.e5}"#, "expected a digit"),
        InvalidJSON("exponent without digits", #"{"a":1e}"#, "expected a digit"),
        InvalidJSON("signed exponent without digits", #"{"a":1e+}"#, "expected a digit"),
        InvalidJSON("lone minus", #"{"a":-}"#, "expected a digit"),
        InvalidJSON("hex number", #"{"a":0x1F}"#, "expected ',' or '}'"),
        InvalidJSON("misspelled literal", #"{"a":nul}"#, "invalid literal"),
        InvalidJSON("capitalised literal", #"{"a":True}"#, "expected a value"),
        InvalidJSON("literal with trailing letters", #"{"a":truex}"#, "expected ',' or '}'"),
        InvalidJSON("comment", #"{/* hi */"a":1}"#, "expected a string key"),
        InvalidJSON("unescaped NUL in string", stringValue([0x00]), "control character"),
        InvalidJSON("unescaped newline in string", stringValue([0x0A]), "control character"),
        InvalidJSON("unescaped tab in string", stringValue([0x09]), "control character"),
        InvalidJSON("unescaped 0x1F in string", stringValue([0x1F]), "control character"),
        InvalidJSON(
            "unescaped control character in key",
            [0x7B, 0x22, 0x01, 0x22, 0x3A, 0x31, 0x7D],
            "control character"
        ),
        InvalidJSON("escape of an ordinary letter", stringValue(Array(#"\x"#.utf8)), "invalid escape"),
        InvalidJSON("escaped single quote", stringValue(Array(#"\'"#.utf8)), "invalid escape"),
        InvalidJSON("uppercase U escape", stringValue(Array(#"\U0041"#.utf8)), "invalid escape"),
        InvalidJSON("short \\u escape", stringValue(Array(#"\u12"#.utf8)), "invalid hex digit"),
        InvalidJSON("non-hex \\u escape", stringValue(Array(#"\u12G4"#.utf8)), "invalid hex digit"),
        InvalidJSON("lone high surrogate", stringValue(Array(#"\uD800"#.utf8)), "unpaired surrogate"),
        InvalidJSON("high surrogate before text", stringValue(Array(#"\uD83Dx"#.utf8)), "unpaired surrogate"),
        InvalidJSON("high surrogate before other escape", stringValue(Array(#"\uD800\n"#.utf8)), "unpaired surrogate"),
        InvalidJSON(
            "high surrogate before non-surrogate",
            stringValue(Array(#"\uD800\u0041"#.utf8)),
            "unpaired surrogate"
        ),
        InvalidJSON("two high surrogates", stringValue(Array(#"\uDBFF\uDBFF"#.utf8)), "unpaired surrogate"),
        InvalidJSON("lone low surrogate", stringValue(Array(#"\uDC00"#.utf8)), "unpaired surrogate"),
        InvalidJSON("reversed surrogate pair", stringValue(Array(#"\ude00\ud83d"#.utf8)), "unpaired surrogate"),
        InvalidJSON("lone continuation byte", stringValue([0x80]), "invalid UTF-8"),
        InvalidJSON("overlong two-byte NUL", stringValue([0xC0, 0x80]), "invalid UTF-8"),
        InvalidJSON("overlong two-byte ASCII", stringValue([0xC1, 0xBF]), "invalid UTF-8"),
        InvalidJSON("overlong three-byte", stringValue([0xE0, 0x80, 0x80]), "invalid UTF-8"),
        InvalidJSON("overlong four-byte", stringValue([0xF0, 0x8F, 0xBF, 0xBF]), "invalid UTF-8"),
        InvalidJSON("UTF-8 encoded high surrogate", stringValue([0xED, 0xA0, 0x80]), "invalid UTF-8"),
        InvalidJSON("UTF-8 encoded low surrogate", stringValue([0xED, 0xBF, 0xBF]), "invalid UTF-8"),
        InvalidJSON("scalar above U+10FFFF", stringValue([0xF4, 0x90, 0x80, 0x80]), "invalid UTF-8"),
        InvalidJSON("five-byte lead", stringValue([0xF8, 0x88, 0x80, 0x80, 0x80]), "invalid UTF-8"),
        InvalidJSON("lead byte 0xFF", stringValue([0xFF]), "invalid UTF-8"),
        InvalidJSON("truncated two-byte sequence", stringValue([0xC3]), "invalid UTF-8"),
        InvalidJSON("truncated three-byte sequence", stringValue([0xE2, 0x82]), "invalid UTF-8"),
        InvalidJSON("truncated four-byte sequence", stringValue([0xF0, 0x9F, 0x98]), "invalid UTF-8"),
        InvalidJSON("invalid UTF-8 in key", [0x7B, 0x22, 0xC0, 0xAF, 0x22, 0x3A, 0x31, 0x7D], "invalid UTF-8"),
        InvalidJSON("trailing garbage", #"{"a":1} x"#, "unexpected data after the object"),
        InvalidJSON("second object", "{}{}", "unexpected data after the object"),
        InvalidJSON("extra closing brace", #"{"a":1}}"#, "unexpected data after the object"),
        InvalidJSON("trailing NUL", [0x7B, 0x7D, 0x00], "unexpected data after the object"),
        InvalidJSON("empty input", "", "unexpected end of input"),
        InvalidJSON("whitespace only", " \n\t\r", "unexpected end of input"),
        InvalidJSON("vertical tab as whitespace", "{\u{0B}}", "expected a string key"),
        InvalidJSON("form feed as whitespace", "\u{0C}{}", "expected a JSON object"),
        InvalidJSON("no-break space as whitespace", "{}\u{A0}", "unexpected data after the object"),
        InvalidJSON("byte order mark", "\u{FEFF}{}", "expected a JSON object"),
        InvalidJSON("array at top level", "[]", "expected a JSON object"),
        InvalidJSON("string at top level", #""a""#, "expected a JSON object"),
        InvalidJSON("number at top level", "1", "expected a JSON object"),
        InvalidJSON("null at top level", "null", "expected a JSON object"),
        InvalidJSON("unclosed object", #"{"a":1"#, "unexpected end of input"),
        InvalidJSON("unclosed string", #"{"a":"b}"#, "unexpected end of input"),
    ]

    @Test(arguments: Self.cases)
    func rejected(_ input: InvalidJSON) {
        let error = #expect(throws: JSONError.self) { try parse(bytes: input.bytes) }
        #expect(
            error?.description.contains(input.reason) == true,
            "\(error.map(String.init(describing:)) ?? "no error")"
        )
    }

    @Test func errorsNameTheOffendingByte() {
        #expect(throws: JSONError.syntax("expected ':'", at: 5)) { try parse(#"{"a" 1}"#) }
        #expect(throws: JSONError.syntax("invalid escape sequence", at: 7)) { try parse(#"{"s":"a\q"}"#) }
        #expect(JSONError.syntax("expected ':'", at: 17).description == "invalid JSON at byte 17: expected ':'")
        #expect(JSONError.nestingTooDeep(maxDepth: 64).description == "JSON nested deeper than 64 levels")
        #expect(JSONError.notAnObject.description == "expected a JSON object")
    }

    /// Exercises every string, number, literal and container rule, so cutting it anywhere leaves
    /// something unfinished.
    static let completeDocument =
        #"{"type":"publish","id":-7,"topic":"chat:général","data":{"text":"hi \"you\"\n\u00e9\ud83d\ude00😀","#
        + #""n":[0,-0.5,1.5E-3,2e+10,123],"ok":true,"no":false,"none":null,"empty":{},"list":[[],{}]}}"#

    @Test func everyStrictPrefixOfADocumentIsRejected() throws {
        let bytes = Array(Self.completeDocument.utf8)
        #expect(throws: Never.self) { try parse(bytes: bytes) }
        for length in 0..<bytes.count {
            #expect(throws: JSONError.self, "prefix of \(length) bytes") { try parse(bytes: Array(bytes[..<length])) }
        }
    }
}

@Suite struct JSONScannerDepthTests {
    @Test(arguments: [1, 2, 3, 64, 200])
    func exactlyMaxDepthIsAccepted(maxDepth: Int) throws {
        #expect(throws: Never.self) { try parse(nestedArrays(levels: maxDepth - 1), maxDepth: maxDepth) }
    }

    @Test(arguments: [1, 2, 3, 64, 200])
    func oneLevelDeeperIsRejected(maxDepth: Int) {
        #expect(throws: JSONError.nestingTooDeep(maxDepth: maxDepth)) {
            try parse(nestedArrays(levels: maxDepth), maxDepth: maxDepth)
        }
    }

    @Test func objectsCountAsLevelsToo() throws {
        let json = #"{"a":{"b":{"c":1}}}"#
        #expect(throws: Never.self) { try parse(json, maxDepth: 3) }
        #expect(throws: JSONError.nestingTooDeep(maxDepth: 2)) { try parse(json, maxDepth: 2) }
    }

    @Test func defaultMaxDepthIs64() {
        #expect(throws: Never.self) { try parse(nestedArrays(levels: 63)) }
        #expect(throws: JSONError.nestingTooDeep(maxDepth: 64)) { try parse(nestedArrays(levels: 64)) }
    }

    @Test func zeroMaxDepthRejectsEvenTheTopLevelObject() {
        #expect(throws: JSONError.nestingTooDeep(maxDepth: 0)) { try parse("{}", maxDepth: 0) }
    }

    @Test func hostileDepthIsRejected() {
        let arrays = "{\"a\":" + String(repeating: "[", count: 10_000)
        let objects = String(repeating: "{\"a\":", count: 10_000)
        #expect(throws: JSONError.nestingTooDeep(maxDepth: 64)) { try parse(arrays) }
        #expect(throws: JSONError.nestingTooDeep(maxDepth: 64)) { try parse(objects) }
        #expect(throws: JSONError.nestingTooDeep(maxDepth: 64)) { try parse(nestedArrays(levels: 10_000)) }
    }

    /// Alternating arrays and objects `levels` deep, wrapped in the top-level object.
    private static func alternatingNesting(levels: Int, innermost: String = "1") -> String {
        var json = "{\"a\":"
        for level in 0..<levels {
            json += level.isMultiple(of: 2) ? "[" : "{\"k\":"
        }
        json += innermost
        for level in (0..<levels).reversed() {
            json += level.isMultiple(of: 2) ? "]" : "}"
        }
        return json + "}"
    }

    @Test func veryDeepDocumentsParseIterativelyWhenAllowed() throws {
        let json = Self.alternatingNesting(levels: 10_000)
        let object = try parse(json, maxDepth: 10_001)
        #expect(object["a"]?.kind == .array)
        #expect(throws: JSONError.nestingTooDeep(maxDepth: 10_000)) { try parse(json, maxDepth: 10_000) }
    }

    @Test func closingBracketsMustMatchBeyondTheFirst64Levels() {
        var mismatched = Array(Self.alternatingNesting(levels: 100).utf8)
        // Swap the innermost closer (inside level 99, an object) for the other kind.
        let innermostCloser = mismatched.firstIndex(of: UInt8(ascii: "}"))!
        mismatched[innermostCloser] = UInt8(ascii: "]")
        #expect(throws: JSONError.syntax("expected ',' or '}'", at: innermostCloser)) {
            try parse(bytes: mismatched, maxDepth: 200)
        }
    }

    @Test func nestedObjectDepthCountsFromItself() throws {
        let object = try parse(#"{"data":{"a":[[1]]}}"#)
        let data = try #require(object["data"])
        #expect(throws: Never.self) { try data.object(maxDepth: 3) }
        #expect(throws: JSONError.nestingTooDeep(maxDepth: 2)) { try data.object(maxDepth: 2) }
    }
}

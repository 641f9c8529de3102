import NIOCore
import Testing

@testable import ChorusCore

private func jsonString(_ string: some StringProtocol) -> String {
    var buffer = ByteBuffer()
    let written = buffer.writeJSONString(string)
    #expect(written == buffer.readableBytes)
    return String(buffer: buffer)
}

@Suite struct JSONWritingTests {
    private static func expectedEscape(for byte: UInt8) -> String {
        switch byte {
        case 0x08: #"\b"#
        case 0x09: #"\t"#
        case 0x0A: #"\n"#
        case 0x0C: #"\f"#
        case 0x0D: #"\r"#
        default: #"\u00"# + (byte < 0x10 ? "0" : "") + String(byte, radix: 16)
        }
    }

    @Test(arguments: UInt8(0x00)...UInt8(0x1F))
    func controlCharactersAreEscaped(byte: UInt8) {
        let string = "a" + String(UnicodeScalar(byte)) + "b"
        #expect(jsonString(string) == "\"a" + Self.expectedEscape(for: byte) + "b\"")
    }

    @Test func hexEscapesAreLowercase() {
        #expect(jsonString("\u{1F}\u{0}\u{0B}") == #""\u001f\u0000\u000b""#)
    }

    @Test func quotesAndBackslashesAreEscaped() {
        #expect(jsonString(#"say "hi" \ bye\"#) == #""say \"hi\" \\ bye\\""#)
    }

    @Test func otherASCIIIsWrittenAsIs() {
        let printable = String(
            (0x20...0x7F).map { Character(UnicodeScalar(UInt8($0))) }.filter { $0 != "\"" && $0 != "\\" }
        )
        #expect(jsonString(printable) == "\"" + printable + "\"")
        #expect(jsonString("a/b") == #""a/b""#)
        #expect(jsonString("") == #""""#)
    }

    @Test func nonASCIIIsWrittenAsIs() {
        let string = "héllo ключ 中文 😀 \u{10FFFF}"
        var buffer = ByteBuffer()
        buffer.writeJSONString(string)
        #expect(
            buffer.readableBytesView.elementsEqual([UInt8(ascii: "\"")] + Array(string.utf8) + [UInt8(ascii: "\"")])
        )
    }

    @Test func substringsAreWrittenToo() {
        let string = "xx\"sub\nstring\"xx"
        let substring = string.dropFirst(2).dropLast(2)
        #expect(jsonString(substring) == #""\"sub\nstring\"""#)
    }

    @Test func writesAppendAndReturnTheirLength() {
        var buffer = ByteBuffer(string: "prefix")
        let written = buffer.writeJSONString("a\"b")
        #expect(written == 6)
        #expect(String(buffer: buffer) == #"prefix"a\"b""#)
    }

    @Test func buildsAnObjectFieldByField() throws {
        var buffer = ByteBuffer()
        buffer.writeStaticString("{")
        #expect(buffer.writeJSONKey("type") == 7)
        buffer.writeJSONString("event")
        buffer.writeStaticString(",")
        buffer.writeJSONKey("topic")
        buffer.writeJSONString("chat:\"general\"")
        buffer.writeStaticString("}")
        #expect(String(buffer: buffer) == #"{"type":"event","topic":"chat:\"general\""}"#)

        let object = try JSONObject(parsing: buffer)
        #expect(object["type"]?.string == "event")
        #expect(object["topic"]?.string == "chat:\"general\"")
    }

    @Test func keysAreEscapedToo() {
        var buffer = ByteBuffer()
        buffer.writeJSONKey("a\"b")
        #expect(String(buffer: buffer) == #""a\"b":"#)
    }

    /// A scalar drawn mostly from the characters that need care: escapes, controls, multi-byte UTF-8.
    private static func randomScalar(using generator: inout SeededGenerator) -> Unicode.Scalar {
        while true {
            let candidate: UInt32 =
                switch UInt8.random(in: 0..<6, using: &generator) {
                case 0: UInt32.random(in: 0x00..<0x20, using: &generator)
                case 1: [0x22, 0x5C, 0x2F, 0x7F].randomElement(using: &generator)!
                case 2: UInt32.random(in: 0x20..<0x80, using: &generator)
                case 3: UInt32.random(in: 0x80..<0x800, using: &generator)
                case 4: UInt32.random(in: 0x800..<0x10000, using: &generator)
                default: UInt32.random(in: 0x10000...0x10FFFF, using: &generator)
                }
            // Surrogate code points are not scalars; draw again.
            if let scalar = Unicode.Scalar(candidate) {
                return scalar
            }
        }
    }

    @Test func randomStringsRoundTripThroughTheScanner() throws {
        var generator = SeededGenerator(seed: 0x43_68_6F_72_75_73)
        for _ in 0..<2_000 {
            var scalars = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0..<40, using: &generator) {
                scalars.append(Self.randomScalar(using: &generator))
            }
            let original = String(scalars)

            var buffer = ByteBuffer()
            buffer.writeStaticString("{")
            buffer.writeJSONKey("s")
            buffer.writeJSONString(original)
            buffer.writeStaticString(",")
            // The same string as a key must survive too.
            buffer.writeJSONString(original)
            buffer.writeStaticString(":1}")

            let object = try JSONObject(parsing: buffer)
            let decoded = try #require(object["s"]?.string)
            // Compare scalars: String equality would also accept canonically equivalent strings.
            #expect(Array(decoded.unicodeScalars) == Array(original.unicodeScalars))
            #expect(object.keys.last.map { Array($0.unicodeScalars) } == Array(original.unicodeScalars))
        }
    }
}

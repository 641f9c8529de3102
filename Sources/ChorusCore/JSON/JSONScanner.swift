/// A strict RFC 8259 validator that records where the members of the top-level object (or the
/// elements of the top-level array) lie.
///
/// It makes one pass over the bytes without allocating per character. Nesting is tracked on a
/// bit stack rather than by recursion, so hostile input such as `[[[[...` can never exhaust the
/// call stack; scanning stops as soon as `maxDepth` is exceeded.
struct JSONScanner {
    /// A member of the top-level object: its decoded key and where its value lies in the input.
    struct Member: Sendable {
        let key: String
        let kind: RawJSON.Kind
        let valueRange: Range<Int>
    }

    // Internal, not private: JSONScanner+Tree.swift builds a JSONValue with the same scanning steps.
    let bytes: UnsafeRawBufferPointer
    let maxDepth: Int
    var offset = 0

    init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// Validates that `bytes` hold exactly one JSON object, surrounding whitespace allowed, and
    /// returns its members in document order. The object itself is at depth 1.
    static func scanObject(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) throws(JSONError) -> [Member] {
        var scanner = JSONScanner(bytes: bytes, maxDepth: maxDepth)
        return try scanner.scanTopLevel(isObject: true)
    }

    /// Validates that `bytes` hold exactly one JSON array, surrounding whitespace allowed, and
    /// returns its elements in order, as members whose key is empty. The array is at depth 1.
    static func scanArray(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) throws(JSONError) -> [Member] {
        var scanner = JSONScanner(bytes: bytes, maxDepth: maxDepth)
        return try scanner.scanTopLevel(isObject: false)
    }

    /// Validates that `bytes` hold exactly one JSON value of any kind, surrounding whitespace
    /// allowed, and returns its kind and where it lies. A container at the top is at depth 1.
    static func scanValue(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) throws(JSONError) -> Member {
        var scanner = JSONScanner(bytes: bytes, maxDepth: maxDepth)
        scanner.skipWhitespace()
        let start = scanner.offset
        let kind = try scanner.scanValue(depth: 1)
        let end = scanner.offset
        scanner.skipWhitespace()
        guard scanner.offset == bytes.count else {
            throw scanner.syntaxError("unexpected data after the value")
        }
        return Member(key: "", kind: kind, valueRange: start..<end)
    }

    /// Decodes the contents (without quotes) of a string this scanner has validated.
    static func decodeString(_ contents: UnsafeRawBufferPointer, hasEscapes: Bool) -> String {
        guard hasEscapes else {
            return String(decoding: contents, as: UTF8.self)
        }
        // Every escape is longer than the UTF-8 it stands for, so the contents bound the result.
        return String(unsafeUninitializedCapacity: contents.count) { output in
            var input = 0
            var written = 0
            while input < contents.count {
                let byte = contents[input]
                guard byte == UInt8(ascii: "\\") else {
                    output[written] = byte
                    written += 1
                    input += 1
                    continue
                }
                let escaped = contents[input + 1]
                input += 2
                switch escaped {
                case UInt8(ascii: "b"): output[written] = 0x08
                case UInt8(ascii: "f"): output[written] = 0x0C
                case UInt8(ascii: "n"): output[written] = 0x0A
                case UInt8(ascii: "r"): output[written] = 0x0D
                case UInt8(ascii: "t"): output[written] = 0x09
                case UInt8(ascii: "u"):
                    var scalar = Self.decodeHex4(contents, at: input)
                    input += 4
                    if (0xD800...0xDBFF).contains(scalar) {
                        // Validation guaranteed a `\uDC00`-`\uDFFF` escape follows.
                        let low = Self.decodeHex4(contents, at: input + 2)
                        input += 6
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    UTF8.encode(Unicode.Scalar(scalar)!) { unit in
                        output[written] = unit
                        written += 1
                    }
                    continue
                default:
                    // `"`, `\` and `/` stand for themselves.
                    output[written] = escaped
                }
                written += 1
            }
            return written
        }
    }

    // MARK: Structure

    private mutating func scanTopLevel(isObject: Bool) throws(JSONError) -> [Member] {
        let closingByte = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
        self.skipWhitespace()
        guard try self.peek() == (isObject ? UInt8(ascii: "{") : UInt8(ascii: "[")) else {
            throw isObject ? .notAnObject : self.syntaxError("expected '['")
        }
        guard self.maxDepth >= 1 else {
            throw .nestingTooDeep(maxDepth: self.maxDepth)
        }
        self.offset += 1

        var members: [Member] = []
        members.reserveCapacity(8)
        self.skipWhitespace()
        if try self.peek() == closingByte {
            self.offset += 1
        } else {
            memberLoop: while true {
                var key = ""
                if isObject {
                    let (keyRange, keyHasEscapes) = try self.scanKey()
                    key = Self.decodeString(
                        UnsafeRawBufferPointer(rebasing: self.bytes[keyRange]),
                        hasEscapes: keyHasEscapes
                    )
                }
                self.skipWhitespace()
                let valueStart = self.offset
                // Containers inside the top-level object are its children, at depth 2.
                let kind = try self.scanValue(depth: 2)
                members.append(Member(key: key, kind: kind, valueRange: valueStart..<self.offset))

                self.skipWhitespace()
                switch try self.peek() {
                case UInt8(ascii: ","):
                    self.offset += 1
                case closingByte:
                    self.offset += 1
                    break memberLoop
                default:
                    throw self.syntaxError(isObject ? "expected ',' or '}'" : "expected ',' or ']'")
                }
            }
        }

        self.skipWhitespace()
        guard self.offset == self.bytes.count else {
            throw self.syntaxError(isObject ? "unexpected data after the object" : "unexpected data after the array")
        }
        return members
    }

    /// Scans `"key":` (whitespace allowed around both) and returns where the key's contents lie.
    mutating func scanKey() throws(JSONError) -> (contents: Range<Int>, hasEscapes: Bool) {
        self.skipWhitespace()
        guard try self.peek() == UInt8(ascii: "\"") else {
            throw self.syntaxError("expected a string key")
        }
        let start = self.offset
        let hasEscapes = try self.scanString()
        let contents = (start + 1)..<(self.offset - 1)
        self.skipWhitespace()
        guard try self.peek() == UInt8(ascii: ":") else {
            throw self.syntaxError("expected ':'")
        }
        self.offset += 1
        return (contents, hasEscapes)
    }

    /// Scans the value starting at `offset`; `depth` is the level a container starting here is at.
    private mutating func scanValue(depth: Int) throws(JSONError) -> RawJSON.Kind {
        switch try self.peek() {
        case UInt8(ascii: "{"):
            try self.scanContainer(depth: depth)
            return .object
        case UInt8(ascii: "["):
            try self.scanContainer(depth: depth)
            return .array
        default:
            return try self.scanScalar()
        }
    }

    private enum ContainerState {
        case firstElementOrClose
        case element
        case commaOrClose
    }

    /// Scans the object or array starting at `offset`, which is at level `depth`, including
    /// everything nested inside it, without recursing.
    private mutating func scanContainer(depth: Int) throws(JSONError) {
        var open = OpenContainers()
        try self.enterContainer(&open, depth: depth)
        var state = ContainerState.firstElementOrClose
        while true {
            self.skipWhitespace()
            let byte = try self.peek()
            switch state {
            case .firstElementOrClose where byte == open.closingByte, .commaOrClose where byte == open.closingByte:
                self.offset += 1
                open.pop()
                if open.isEmpty {
                    return
                }
                state = .commaOrClose
            case .commaOrClose:
                guard byte == UInt8(ascii: ",") else {
                    throw self.syntaxError(open.innermostIsObject ? "expected ',' or '}'" : "expected ',' or ']'")
                }
                self.offset += 1
                state = .element
            case .firstElementOrClose, .element:
                if open.innermostIsObject {
                    _ = try self.scanKey()
                    self.skipWhitespace()
                }
                switch try self.peek() {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    try self.enterContainer(&open, depth: depth + open.count)
                    state = .firstElementOrClose
                default:
                    _ = try self.scanScalar()
                    state = .commaOrClose
                }
            }
        }
    }

    /// Steps past the `{` or `[` at `offset`, refusing to go deeper than `maxDepth`.
    private mutating func enterContainer(_ open: inout OpenContainers, depth: Int) throws(JSONError) {
        guard depth <= self.maxDepth else {
            throw .nestingTooDeep(maxDepth: self.maxDepth)
        }
        open.push(isObject: self.bytes[self.offset] == UInt8(ascii: "{"))
        self.offset += 1
    }

    // MARK: Scalars

    mutating func scanScalar() throws(JSONError) -> RawJSON.Kind {
        switch try self.peek() {
        case UInt8(ascii: "\""):
            _ = try self.scanString()
            return .string
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try self.scanNumber()
            return .number
        case UInt8(ascii: "t"):
            try self.scanLiteral("true")
            return .bool
        case UInt8(ascii: "f"):
            try self.scanLiteral("false")
            return .bool
        case UInt8(ascii: "n"):
            try self.scanLiteral("null")
            return .null
        default:
            throw self.syntaxError("expected a value")
        }
    }

    private mutating func scanLiteral(_ literal: StaticString) throws(JSONError) {
        let start = self.offset
        for expected in UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount) {
            guard try self.peek() == expected else {
                throw .syntax("invalid literal", at: start)
            }
            self.offset += 1
        }
    }

    /// Scans `-? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?`.
    private mutating func scanNumber() throws(JSONError) {
        if self.bytes[self.offset] == UInt8(ascii: "-") {
            self.offset += 1
        }
        if try self.peek() == UInt8(ascii: "0") {
            self.offset += 1
            if self.offset < self.bytes.count, Self.isDigit(self.bytes[self.offset]) {
                throw self.syntaxError("leading zeros are not allowed")
            }
        } else {
            try self.scanDigits()
        }
        if self.offset < self.bytes.count, self.bytes[self.offset] == UInt8(ascii: ".") {
            self.offset += 1
            try self.scanDigits()
        }
        if self.offset < self.bytes.count, self.bytes[self.offset] | 0x20 == UInt8(ascii: "e") {
            self.offset += 1
            if self.offset < self.bytes.count,
                self.bytes[self.offset] == UInt8(ascii: "+") || self.bytes[self.offset] == UInt8(ascii: "-")
            {
                self.offset += 1
            }
            try self.scanDigits()
        }
    }

    /// Scans one or more digits.
    private mutating func scanDigits() throws(JSONError) {
        guard Self.isDigit(try self.peek()) else {
            throw self.syntaxError("expected a digit")
        }
        self.offset += 1
        while self.offset < self.bytes.count, Self.isDigit(self.bytes[self.offset]) {
            self.offset += 1
        }
    }

    /// Scans the string starting at the `"` at `offset` and reports whether it contains escapes.
    private mutating func scanString() throws(JSONError) -> Bool {
        self.offset += 1
        var hasEscapes = false
        while true {
            self.skipPlainASCII()
            switch try self.peek() {
            case UInt8(ascii: "\""):
                self.offset += 1
                return hasEscapes
            case UInt8(ascii: "\\"):
                hasEscapes = true
                try self.scanEscape()
            case 0x00..<0x20:
                throw self.syntaxError("unescaped control character in string")
            default:
                try self.scanMultiByteUTF8()
            }
        }
    }

    /// Skips string bytes that need no further checks; most keys and values are nothing else.
    @inline(__always)
    private mutating func skipPlainASCII() {
        // A local index lets the loop stay in registers.
        var index = self.offset
        while index < self.bytes.count {
            let byte = self.bytes[index]
            guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") else {
                break
            }
            index += 1
        }
        self.offset = index
    }

    private mutating func scanEscape() throws(JSONError) {
        let start = self.offset
        self.offset += 1
        switch try self.peek() {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"),
            UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            self.offset += 1
        case UInt8(ascii: "u"):
            self.offset += 1
            switch try self.scanHex4() {
            case 0xD800...0xDBFF:
                // A high surrogate is only valid as the first half of a `\uD8xx\uDCxx` pair.
                guard try self.peek() == UInt8(ascii: "\\") else {
                    throw .syntax("unpaired surrogate in \\u escape", at: start)
                }
                self.offset += 1
                guard try self.peek() == UInt8(ascii: "u") else {
                    throw .syntax("unpaired surrogate in \\u escape", at: start)
                }
                self.offset += 1
                guard (0xDC00...0xDFFF).contains(try self.scanHex4()) else {
                    throw .syntax("unpaired surrogate in \\u escape", at: start)
                }
            case 0xDC00...0xDFFF:
                throw .syntax("unpaired surrogate in \\u escape", at: start)
            default:
                break
            }
        default:
            throw .syntax("invalid escape sequence", at: start)
        }
    }

    private mutating func scanHex4() throws(JSONError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = Self.hexValue(try self.peek()) else {
                throw self.syntaxError("invalid hex digit in \\u escape")
            }
            value = value << 4 | digit
            self.offset += 1
        }
        return value
    }

    /// Validates one multi-byte UTF-8 sequence, rejecting overlong forms, encoded surrogates and
    /// scalars above U+10FFFF (the well-formed sequences of Unicode Table 3-7).
    private mutating func scanMultiByteUTF8() throws(JSONError) {
        let start = self.offset
        let length: Int
        let secondByteRange: ClosedRange<UInt8>
        switch self.bytes[start] {
        case 0xC2...0xDF: (length, secondByteRange) = (2, 0x80...0xBF)
        case 0xE0: (length, secondByteRange) = (3, 0xA0...0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: (length, secondByteRange) = (3, 0x80...0xBF)
        case 0xED: (length, secondByteRange) = (3, 0x80...0x9F)
        case 0xF0: (length, secondByteRange) = (4, 0x90...0xBF)
        case 0xF1...0xF3: (length, secondByteRange) = (4, 0x80...0xBF)
        case 0xF4: (length, secondByteRange) = (4, 0x80...0x8F)
        default: throw .syntax("invalid UTF-8", at: start)
        }
        self.offset += 1
        guard secondByteRange.contains(try self.peek()) else {
            throw .syntax("invalid UTF-8", at: start)
        }
        self.offset += 1
        for _ in 2..<length {
            guard (0x80...0xBF).contains(try self.peek()) else {
                throw .syntax("invalid UTF-8", at: start)
            }
            self.offset += 1
        }
    }

    // MARK: Bytes

    @inline(__always)
    mutating func skipWhitespace() {
        while self.offset < self.bytes.count {
            switch self.bytes[self.offset] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                self.offset += 1
            default:
                return
            }
        }
    }

    /// The byte at `offset`; running out of input is an error wherever a byte is still required.
    @inline(__always)
    func peek() throws(JSONError) -> UInt8 {
        guard self.offset < self.bytes.count else {
            throw self.syntaxError("unexpected end of input")
        }
        return self.bytes[self.offset]
    }

    func syntaxError(_ reason: String) -> JSONError {
        .syntax(reason, at: self.offset)
    }

    @inline(__always)
    private static func isDigit(_ byte: UInt8) -> Bool {
        byte &- UInt8(ascii: "0") < 10
    }

    private static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte &- UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte &- UInt8(ascii: "a") &+ 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte &- UInt8(ascii: "A") &+ 10)
        default: nil
        }
    }

    private static func decodeHex4(_ contents: UnsafeRawBufferPointer, at index: Int) -> UInt32 {
        (index..<index + 4).reduce(0) { value, index in value << 4 | Self.hexValue(contents[index])! }
    }

    /// The kinds of the containers a scan is inside, innermost last.
    ///
    /// The first 64 levels live in a single word so ordinary documents never allocate; deeper levels,
    /// reachable only with a larger `maxDepth`, spill into an array.
    private struct OpenContainers {
        private var objectBits: UInt64 = 0
        private var deeperLevelsAreObjects: [Bool] = []
        private(set) var count = 0

        var isEmpty: Bool {
            self.count == 0
        }

        @inline(__always)
        var innermostIsObject: Bool {
            if self.count > UInt64.bitWidth {
                return self.deeperLevelsAreObjects.last!
            }
            return self.objectBits & (1 << (self.count - 1)) != 0
        }

        @inline(__always)
        var closingByte: UInt8 {
            self.innermostIsObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
        }

        mutating func push(isObject: Bool) {
            if self.count < UInt64.bitWidth {
                let bit: UInt64 = 1 << self.count
                self.objectBits = isObject ? self.objectBits | bit : self.objectBits & ~bit
            } else {
                self.deeperLevelsAreObjects.append(isObject)
            }
            self.count += 1
        }

        mutating func pop() {
            self.count -= 1
            if self.count >= UInt64.bitWidth {
                self.deeperLevelsAreObjects.removeLast()
            }
        }
    }
}

extension JSONScanner {
    /// Validates that `bytes` hold exactly one JSON value (surrounding whitespace allowed) and
    /// returns it as a tree. A container at the top is at depth 1.
    ///
    /// Unlike the scans above this recurses, once per level, so `maxDepth` bounds the stack.
    static func parseTree(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) throws(JSONError) -> JSONValue {
        var scanner = JSONScanner(bytes: bytes, maxDepth: maxDepth)
        scanner.skipWhitespace()
        let value = try scanner.parseTreeValue(depth: 1)
        scanner.skipWhitespace()
        guard scanner.offset == bytes.count else {
            throw scanner.syntaxError("unexpected data after the value")
        }
        return value
    }

    /// Parses the value at `offset`; `depth` is the level a container starting here is at.
    private mutating func parseTreeValue(depth: Int) throws(JSONError) -> JSONValue {
        let opening = try self.peek()
        guard opening == UInt8(ascii: "{") || opening == UInt8(ascii: "[") else {
            return try self.parseTreeScalar()
        }
        guard depth <= self.maxDepth else {
            throw .nestingTooDeep(maxDepth: self.maxDepth)
        }
        let isObject = opening == UInt8(ascii: "{")
        let closingByte = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
        self.offset += 1
        var object = JSONValue.Object()
        var elements: [JSONValue] = []
        self.skipWhitespace()
        if try self.peek() == closingByte {
            self.offset += 1
        } else {
            while true {
                if isObject {
                    let (keyRange, keyHasEscapes) = try self.scanKey()
                    let key = Self.decodeString(UnsafeRawBufferPointer(rebasing: self.bytes[keyRange]), hasEscapes: keyHasEscapes)
                    self.skipWhitespace()
                    object[key] = try self.parseTreeValue(depth: depth + 1)
                } else {
                    self.skipWhitespace()
                    elements.append(try self.parseTreeValue(depth: depth + 1))
                }
                self.skipWhitespace()
                let byte = try self.peek()
                self.offset += 1
                if byte == closingByte {
                    break
                }
                guard byte == UInt8(ascii: ",") else {
                    self.offset -= 1
                    throw self.syntaxError(isObject ? "expected ',' or '}'" : "expected ',' or ']'")
                }
            }
        }
        return isObject ? .object(object) : .array(elements)
    }

    private mutating func parseTreeScalar() throws(JSONError) -> JSONValue {
        let start = self.offset
        let kind = try self.scanScalar()
        let text = UnsafeRawBufferPointer(rebasing: self.bytes[start..<self.offset])
        switch kind {
        case .string:
            let contents = UnsafeRawBufferPointer(rebasing: text.dropFirst().dropLast())
            return .string(Self.decodeString(contents, hasEscapes: contents.contains(UInt8(ascii: "\\"))))
        case .number:
            return .number(JSONNumber(validatedText: text))
        case .bool:
            return .bool(text[0] == UInt8(ascii: "t"))
        case .null, .object, .array:
            // `scanScalar` only returns scalar kinds.
            return .null
        }
    }
}

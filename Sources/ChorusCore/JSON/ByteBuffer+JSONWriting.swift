public import NIOCore

extension ByteBuffer {
    /// Writes `string` as a JSON string literal with quotes, escaping `"` `\` and control
    /// characters (< 0x20 as \n \r \t \b \f or \u00XX). Non-ASCII UTF-8 is written as is.
    @discardableResult
    public mutating func writeJSONString(_ string: some StringProtocol) -> Int {
        let written = string.utf8.withContiguousStorageIfAvailable { utf8 in
            self.writeJSONStringLiteral(UnsafeRawBufferPointer(utf8))
        }
        if let written {
            return written
        }
        // Bridged strings may not store UTF-8; String(_:) makes a native copy that does.
        var contiguous = String(string)
        return contiguous.withUTF8 { self.writeJSONStringLiteral(UnsafeRawBufferPointer($0)) }
    }

    /// Writes `"key":` (used to build objects field by field).
    @discardableResult
    public mutating func writeJSONKey(_ key: StaticString) -> Int {
        let written = key.withUTF8Buffer { self.writeJSONStringLiteral(UnsafeRawBufferPointer($0)) }
        return written + self.writeInteger(UInt8(ascii: ":"))
    }

    /// Writes `utf8` quoted and escaped. Measuring the result first lets it go out in a single
    /// write, instead of one buffer operation per escape.
    private mutating func writeJSONStringLiteral(_ utf8: UnsafeRawBufferPointer) -> Int {
        let length = utf8.reduce(2) { length, byte in length + Self.jsonEscapedLength(of: byte) }
        return self.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { output in
            var position = 0
            func append(_ byte: UInt8) {
                output[position] = byte
                position += 1
            }

            append(UInt8(ascii: "\""))
            for byte in utf8 {
                if let shortForm = Self.jsonShortEscape(for: byte) {
                    append(UInt8(ascii: "\\"))
                    append(shortForm)
                } else if byte < 0x20 {
                    let hexDigits: StaticString = "0123456789abcdef"
                    append(UInt8(ascii: "\\"))
                    append(UInt8(ascii: "u"))
                    append(UInt8(ascii: "0"))
                    append(UInt8(ascii: "0"))
                    append(hexDigits.utf8Start[Int(byte >> 4)])
                    append(hexDigits.utf8Start[Int(byte & 0x0F)])
                } else {
                    append(byte)
                }
            }
            append(UInt8(ascii: "\""))
            return position
        }
    }

    private static func jsonEscapedLength(of byte: UInt8) -> Int {
        if Self.jsonShortEscape(for: byte) != nil {
            return 2
        }
        return byte < 0x20 ? 6 : 1
    }

    /// The letter after the backslash for bytes with a two-character escape.
    private static func jsonShortEscape(for byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "\""): UInt8(ascii: "\"")
        case UInt8(ascii: "\\"): UInt8(ascii: "\\")
        case 0x08: UInt8(ascii: "b")
        case 0x0C: UInt8(ascii: "f")
        case 0x0A: UInt8(ascii: "n")
        case 0x0D: UInt8(ascii: "r")
        case 0x09: UInt8(ascii: "t")
        default: nil
        }
    }
}

public import NIOCore

/// A validated JSON value that keeps its exact bytes, so it can be forwarded without re-encoding.
///
/// The accessors decode on demand and return `nil` when the value is of another kind.
public struct RawJSON: Sendable, Hashable {
    /// What kind of JSON value it is.
    public enum Kind: Sendable {
        /// An object, `{…}`.
        case object
        /// An array, `[…]`.
        case array
        /// A string.
        case string
        /// A number.
        case number
        /// `true` or `false`.
        case bool
        /// `null`.
        case null
    }

    /// The value's kind.
    public let kind: Kind
    /// Exactly the value's bytes, sharing storage with the parsed input.
    public let bytes: ByteBuffer

    /// `bytes` must hold a single value of `kind` that `JSONScanner` has validated.
    init(kind: Kind, bytes: ByteBuffer) {
        self.kind = kind
        self.bytes = bytes
    }

    /// The decoded string, escapes resolved.
    public var string: String? {
        guard self.kind == .string else {
            return nil
        }
        return self.bytes.withUnsafeReadableBytes { quoted in
            let contents = UnsafeRawBufferPointer(rebasing: quoted.dropFirst().dropLast())
            return JSONScanner.decodeString(contents, hasEscapes: contents.contains(UInt8(ascii: "\\")))
        }
    }

    /// The number as an `Int64`, if it is written without fraction or exponent and fits.
    public var int64: Int64? {
        guard self.kind == .number else {
            return nil
        }
        return self.bytes.withUnsafeReadableBytes { text in
            let isNegative = text[0] == UInt8(ascii: "-")
            // A fraction or exponent is not a digit, so such a number gives nil.
            return Int64(decimalDigits: text.dropFirst(isNegative ? 1 : 0).lazy.map { $0 &- UInt8(ascii: "0") }, isNegative: isNegative)
        }
    }

    /// The number as the nearest `Double`; magnitudes beyond its range become infinity or zero.
    public var double: Double? {
        guard self.kind == .number else {
            return nil
        }
        // JSON number syntax is a subset of what `Double.init?(_:)` accepts.
        return self.bytes.withUnsafeReadableBytes { Double(String(decoding: $0, as: UTF8.self)) }
    }

    /// The boolean; nil when this is not `true` or `false`.
    public var bool: Bool? {
        guard self.kind == .bool else {
            return nil
        }
        return self.bytes.getInteger(at: self.bytes.readerIndex, as: UInt8.self) == UInt8(ascii: "t")
    }

    /// Whether this is `null`.
    public var isNull: Bool {
        self.kind == .null
    }

    /// The elements of an array, in order, each keeping its bytes; nil when this is not an array.
    public var elements: [RawJSON]? {
        guard self.kind == .array else {
            return nil
        }
        // The array was validated with the document it came from, its nesting included, so
        // scanning it again cannot fail.
        let elements = try! self.bytes.withUnsafeReadableBytes { bytes throws(JSONError) in
            try JSONScanner.scanArray(bytes, maxDepth: .max)
        }
        return elements.map { element in
            RawJSON(
                kind: element.kind,
                bytes: self.bytes.getSlice(at: self.bytes.readerIndex + element.valueRange.lowerBound, length: element.valueRange.count)!
            )
        }
    }

    /// Parses this value as an object, which counts as depth 1 for `maxDepth`.
    public func object(maxDepth: Int = 64) throws(JSONError) -> JSONObject {
        guard self.kind == .object else {
            throw .notAnObject
        }
        return try JSONObject(parsing: self.bytes, maxDepth: maxDepth)
    }
}

public import NIOCore

/// A validated JSON object whose member values keep their raw bytes.
///
/// Parsing validates the whole document once; values are sliced out of the input on access and
/// decoded only when asked, so a payload can be forwarded byte for byte.
public struct JSONObject: Sendable {
    private let buffer: ByteBuffer
    private let members: [JSONScanner.Member]

    /// Parses `buffer` (whole readable bytes) which must hold exactly one JSON object (surrounding
    /// whitespace allowed) and validates everything inside it, nested values included, to
    /// `maxDepth` levels (the top-level object is depth 1).
    public init(parsing buffer: ByteBuffer, maxDepth: Int = 64) throws(JSONError) {
        self.members = try buffer.withUnsafeReadableBytes { bytes throws(JSONError) in
            try JSONScanner.scanObject(bytes, maxDepth: maxDepth)
        }
        self.buffer = buffer
    }

    /// The value for `key`; for duplicate keys the last one wins, like most parsers.
    public subscript(key: String) -> RawJSON? {
        // Frames carry a handful of members, so a backwards linear search beats hashing.
        guard let member = self.members.last(where: { $0.key == key }) else {
            return nil
        }
        // The range lies within the readable bytes the scanner was given, so the slice exists.
        let bytes = self.buffer.getSlice(
            at: self.buffer.readerIndex + member.valueRange.lowerBound,
            length: member.valueRange.count
        )!
        return RawJSON(kind: member.kind, bytes: bytes)
    }

    /// The keys in document order, for diagnostics; a duplicated key appears each time it is written.
    public var keys: [String] {
        self.members.map(\.key)
    }

    /// The number of members as written, duplicates included.
    public var count: Int {
        self.members.count
    }
}

public import NIOCore

extension RawJSON {
    /// Validates that `buffer` holds exactly one JSON value (surrounding whitespace allowed),
    /// such as the data a transform hands back, and keeps the value's bytes without the whitespace.
    public init(validating buffer: ByteBuffer, maxDepth: Int = 64) throws(JSONError) {
        let member = try buffer.withUnsafeReadableBytes { bytes in
            Result { () throws(JSONError) in try JSONScanner.scanValue(bytes, maxDepth: maxDepth) }
        }.get()
        self.init(kind: member.kind, bytes: buffer.getSlice(at: buffer.readerIndex + member.valueRange.lowerBound, length: member.valueRange.count)!)
    }
}

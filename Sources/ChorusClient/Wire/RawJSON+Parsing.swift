public import ChorusCore
public import NIOCore

extension RawJSON {
    /// Validates `text` as one JSON value (any kind) and keeps its bytes.
    ///
    /// ChorusCore validates objects; a value is validated as the one member of an object that
    /// wraps it, so the client reuses the hub's validator instead of a second one.
    public static func parsing(_ text: ByteBuffer, maxDepth: Int = 64) throws(ChorusClientError) -> RawJSON {
        var wrapped = ByteBuffer()
        wrapped.reserveCapacity(text.readableBytes + 6)
        wrapped.writeStaticString(#"{"v":"#)
        wrapped.writeImmutableBuffer(text)
        wrapped.writeStaticString("}")
        // The wrapper adds one level of nesting. Text such as `1,"w":2` would make a valid object
        // of two members, so exactly one is required.
        let object: JSONObject
        do {
            object = try JSONObject(parsing: wrapped, maxDepth: maxDepth + 1)
        } catch {
            throw ChorusClientError(.invalidJSON, "not JSON: \(error.description)")
        }
        guard object.count == 1, let value = object["v"] else {
            throw ChorusClientError(.invalidJSON, "not one JSON value")
        }
        return value
    }

    /// Validates `text` as one JSON value.
    public static func parsing(_ text: String, maxDepth: Int = 64) throws(ChorusClientError) -> RawJSON {
        try Self.parsing(ByteBuffer(string: text), maxDepth: maxDepth)
    }

    /// The value's JSON text, exactly as received.
    public var text: String {
        String(buffer: self.bytes)
    }
}

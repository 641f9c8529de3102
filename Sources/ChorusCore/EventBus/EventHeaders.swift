import NIOCore

/// How stores keep an event's headers in one text column: a JSON object, or NULL when empty.
///
/// Written and read with the hub's own JSON code: Foundation's `JSONEncoder` took about a
/// tenth of an event's append on the store's writer thread.
package enum EventHeaders {
    /// The column's value for `headers`: `{"name":"value",…}`, names in order.
    package static func encode(_ headers: [String: String]) -> String? {
        guard !headers.isEmpty else { return nil }
        var buffer = ByteBuffer()
        buffer.writeStaticString("{")
        for (index, name) in headers.keys.sorted().enumerated() {
            if index > 0 { buffer.writeStaticString(",") }
            buffer.writeJSONString(name)
            buffer.writeStaticString(":")
            buffer.writeJSONString(headers[name]!)
        }
        buffer.writeStaticString("}")
        return String(buffer: buffer)
    }

    /// The headers a column holds; an unreadable value (edited by hand), or one that is not an
    /// object of strings, reads as none.
    package static func decode(_ text: String?) -> [String: String] {
        guard let text, case .object(let object)? = try? JSONValue(parsing: ByteBuffer(string: text)) else { return [:] }
        var headers: [String: String] = [:]
        for name in object.keys {
            guard case .string(let value)? = object[name] else { return [:] }
            headers[name] = value
        }
        return headers
    }
}

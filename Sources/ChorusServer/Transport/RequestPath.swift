/// The one spelling of a request path that the router and Hummingbird both match: `//api/…` or
/// `/./api/…` reached an API handler while looking like another path to a prefix test (issue
/// #21), so such paths are refused before anything routes them.
enum RequestPath {
    /// The path of a request target: what precedes `?`.
    static func of(_ uri: String) -> Substring {
        guard let query = uri.utf8.firstIndex(of: UInt8(ascii: "?")) else { return uri[...] }
        return uri[..<query]
    }

    /// Whether `path` is origin-form with no empty, `.` or `..` segment (a trailing `/` aside).
    /// Percent-encoded characters stay: an API path parameter may hold an encoded `/`, and the
    /// rate limit is on the `/api` route group, whatever a path's spelling. Read byte by byte,
    /// as every request's path is: no segment list is made.
    static func isCanonical(_ path: Substring) -> Bool {
        let bytes = path.utf8
        let slash = UInt8(ascii: "/")
        let dot = UInt8(ascii: ".")
        guard bytes.first == slash else { return false }
        var segment = bytes.index(after: bytes.startIndex)
        var index = segment
        while true {
            let atEnd = index == bytes.endIndex
            if atEnd || bytes[index] == slash {
                switch bytes.distance(from: segment, to: index) {
                case 0 where !atEnd: return false
                case 1 where bytes[segment] == dot: return false
                case 2 where bytes[segment] == dot && bytes[bytes.index(after: segment)] == dot: return false
                default: break
                }
                if atEnd { return true }
                segment = bytes.index(after: index)
            }
            index = bytes.index(after: index)
        }
    }
}

/// The one spelling of a request path that the router and Hummingbird both match: `//api/…` or
/// `/./api/…` reached an API handler while looking like another path to a prefix test (issue
/// #21), so such paths are refused before anything routes them.
enum RequestPath {
    /// The path of a request target: what precedes `?`.
    static func of(_ uri: String) -> Substring {
        uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }

    /// Whether `path` is origin-form with no empty, `.` or `..` segment (a trailing `/` aside).
    /// Percent-encoded characters stay: an API path parameter may hold an encoded `/`, and the
    /// rate limit is on the `/api` route group, whatever a path's spelling.
    static func isCanonical(_ path: Substring) -> Bool {
        guard path.first == "/" else { return false }
        let segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        for (index, segment) in segments.enumerated() {
            if segment.isEmpty, index < segments.count - 1 { return false }
            if segment == "." || segment == ".." { return false }
        }
        return true
    }
}

import Testing

@testable import ChorusServer

/// Request paths: the part before the query, and which spellings are canonical.
@Suite struct RequestPathTests {
    @Test func thePathIsWhatPrecedesTheQuery() {
        #expect(RequestPath.of("/api/publish?x=1?y") == "/api/publish")
        #expect(RequestPath.of("/api/publish") == "/api/publish")
        #expect(RequestPath.of("?only") == "")
        #expect(RequestPath.of("") == "")
    }

    @Test func emptyDotAndDotDotSegmentsAreNotCanonical() {
        for path in ["/", "/api", "/api/", "/api/publish", "/a/.b/..c/...", "/%2F/x", "/é/ü"] {
            #expect(RequestPath.isCanonical(path[...]), "\(path)")
        }
        for path in ["", "api", "//", "//api", "/api//x", "/.", "/./api", "/api/..", "/api/../x", "/a/./"] {
            #expect(!RequestPath.isCanonical(path[...]), "\(path)")
        }
    }

    /// Against the plain definition (the path's bytes split at each `/`), on random paths. A
    /// combining mark after a `/` does not hide it: `//` + U+0301 is a doubled `/` (as a
    /// router splitting bytes sees it), which a split into characters missed.
    @Test func agreesWithTheSegmentDefinitionOnRandomPaths() {
        func reference(_ path: Substring) -> Bool {
            let bytes = Array(path.utf8)
            guard bytes.first == UInt8(ascii: "/") else { return false }
            let segments = bytes.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
            for (index, segment) in segments.enumerated() {
                if segment.isEmpty, index < segments.count - 1 { return false }
                if Array(segment) == Array(".".utf8) || Array(segment) == Array("..".utf8) { return false }
            }
            return true
        }
        #expect(!RequestPath.isCanonical("//\u{301}api"[...]))
        #expect(RequestPath.isCanonical("/\u{301}api"[...]))
        var generator = SystemRandomNumberGenerator()
        let pieces = ["/", "/", ".", "..", "a", "%2F", "é", "\u{301}", " "]
        for _ in 0..<20_000 {
            let path = (0..<Int.random(in: 0...7, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            #expect(RequestPath.isCanonical(path[...]) == reference(path[...]), "\(path.debugDescription)")
        }
    }
}

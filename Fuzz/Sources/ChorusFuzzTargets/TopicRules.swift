/// The protocol's topic and pattern rules (docs/protocol.md, "Topics and patterns") restated the
/// plain way, as an independent reference for the hub's one-pass validator.
enum TopicRules {
    private static let segmentBytes = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-:@=".utf8)

    /// Works on bytes, not characters, so a combining mark cannot hide a `.` or a `*`.
    static func allow(_ text: String, wildcards: Bool) -> Bool {
        let segments = Array(text.utf8).split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard text.utf8.count <= 255, segments.count <= 16 else { return false }
        return segments.indices.allSatisfy { index in
            let segment = segments[index]
            if wildcards, segment.elementsEqual("*".utf8) { return true }
            if wildcards, segment.elementsEqual("**".utf8) { return index == segments.count - 1 }
            // `chat:*` and, last only, `chat:**`: text ending in `:`, then the wildcard.
            let text = segment.prefix { $0 != UInt8(ascii: "*") }
            let stars = segment.count - text.count
            if wildcards, stars > 0, text.last == UInt8(ascii: ":"), segment.dropFirst(text.count).allSatisfy({ $0 == UInt8(ascii: "*") }) {
                guard stars == 1 || (stars == 2 && index == segments.count - 1) else { return false }
                return text.allSatisfy(self.segmentBytes.contains)
            }
            return !segment.isEmpty && segment.allSatisfy(self.segmentBytes.contains)
        }
    }
}

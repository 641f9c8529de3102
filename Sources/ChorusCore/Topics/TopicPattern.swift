/// A validated subscription pattern: a topic in which a whole segment may be `*` (exactly one segment)
/// or, as the last segment only, `**` (one or more segments).
///
/// A segment may also end in `:*` or `:**` after some text (`chat:*`, `chat:**`): topics often
/// name their namespace with `:` (`chat:general`), which is part of a segment, not a separator.
/// `chat:*` matches one segment that starts with `chat:` and goes on past it (`chat:general`);
/// `chat:**`, last only, matches such a segment and any segments after it (`chat:general.typing`).
///
/// A pattern without wildcards subscribes to exactly one topic.
public struct TopicPattern: Hashable, Sendable, CustomStringConvertible {
    /// One segment of a pattern, as matchers read it.
    public enum Segment: Hashable, Sendable {
        /// Matches a topic segment with exactly this text.
        case literal(String)
        /// `*`: matches exactly one topic segment.
        case anySegment
        /// `**`: matches one or more trailing topic segments.
        case anyTail
        /// `chat:*`: matches one topic segment that starts with this text (which ends in `:`) and is longer.
        case prefixed(String)
        /// `chat:**`, last only: a segment as for ``prefixed(_:)``, then any number of further segments.
        case prefixedTail(String)
    }

    /// The pattern as written.
    public let text: String
    /// Parsed once here so matchers never re-parse ``text``.
    public let segments: [Segment]

    /// Validates `text` against the wire protocol's pattern rules.
    public init(_ text: String) throws(TopicError) {
        try Topic.validate(text, as: .pattern)
        self.text = text
        self.segments = text.split(separator: ".").map { segment in
            // Validation lets `*` appear only as a whole segment or right after a `:` ending one.
            switch segment {
            case "*": .anySegment
            case "**": .anyTail
            case _ where segment.hasSuffix(":**"): .prefixedTail(String(segment.dropLast(2)))
            case _ where segment.hasSuffix(":*"): .prefixed(String(segment.dropLast()))
            default: .literal(String(segment))
            }
        }
    }

    /// The pattern matching exactly `topic`.
    public init(_ topic: Topic) {
        self.text = topic.name
        self.segments = topic.name.split(separator: ".").map { .literal(String($0)) }
    }

    /// Whether the pattern can match more than one topic.
    public var isWildcard: Bool {
        // Validation only lets `*` appear as a wildcard segment.
        text.utf8.contains(UInt8(ascii: "*"))
    }

    /// The single topic this pattern matches, or `nil` when it contains a wildcard.
    public var exactTopic: Topic? {
        isWildcard ? nil : Topic(validatedName: text)
    }

    /// The namespace of every topic the pattern matches, or nil when its first segment is `*`
    /// or `**` (it then spans namespaces). `chat:*` has one: its text up to the `:` is the namespace.
    public var namespace: Substring? {
        switch segments.first {
        case .literal?, .prefixed?, .prefixedTail?: Topic(validatedName: text).namespace
        case .anySegment?, .anyTail?, nil: nil
        }
    }

    /// Whether `topic` matches, by comparing segment by segment.
    ///
    /// Straightforward rather than fast: routing uses ``TopicTrie``, and this serves as its reference.
    public func matches(_ topic: Topic) -> Bool {
        let topicSegments = topic.segments
        for (position, segment) in segments.enumerated() {
            switch segment {
            case .anyTail:
                return topicSegments.count > position
            case .prefixedTail(let prefix):
                return position < topicSegments.count && Self.segment(topicSegments[position], extends: prefix)
            case .anySegment:
                guard position < topicSegments.count else {
                    return false
                }
            case .prefixed(let prefix):
                guard position < topicSegments.count, Self.segment(topicSegments[position], extends: prefix) else {
                    return false
                }
            case .literal(let literal):
                guard position < topicSegments.count, topicSegments[position] == literal else {
                    return false
                }
            }
        }
        return topicSegments.count == segments.count
    }

    /// Whether a topic segment starts with `prefix` and goes on past it, as `chat:*` asks.
    static func segment(_ segment: some StringProtocol, extends prefix: String) -> Bool {
        segment.utf8.count > prefix.utf8.count && segment.utf8.starts(with: prefix.utf8)
    }

    /// The pattern as written.
    public var description: String {
        text
    }

    // `segments` is derived from `text`, so comparing the text alone is both sufficient and cheaper.
    /// Whether both patterns have the same text.
    public static func == (lhs: TopicPattern, rhs: TopicPattern) -> Bool {
        lhs.text == rhs.text
    }

    /// Hashes the pattern's text.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(text)
    }
}

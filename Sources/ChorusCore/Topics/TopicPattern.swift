/// A validated subscription pattern: a topic in which a whole segment may be `*` (exactly one segment)
/// or, as the last segment only, `**` (one or more segments).
///
/// A pattern without wildcards subscribes to exactly one topic.
public struct TopicPattern: Hashable, Sendable, CustomStringConvertible {
    public enum Segment: Hashable, Sendable {
        /// Matches a topic segment with exactly this text.
        case literal(String)
        /// `*`: matches exactly one topic segment.
        case anySegment
        /// `**`: matches one or more trailing topic segments.
        case anyTail
    }

    public let text: String
    /// Parsed once here so matchers never re-parse ``text``.
    public let segments: [Segment]

    /// Validates `text` against the wire protocol's pattern rules.
    public init(_ text: String) throws(TopicError) {
        try Topic.validate(text, as: .pattern)
        self.text = text
        self.segments = text.split(separator: ".").map { segment in
            switch segment {
            case "*": .anySegment
            case "**": .anyTail
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

    /// The namespace of every topic the pattern matches, or nil when its first segment is a
    /// wildcard (it then spans namespaces).
    public var namespace: Substring? {
        guard case .literal = segments.first else { return nil }
        return Topic(validatedName: text).namespace
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
            case .anySegment:
                guard position < topicSegments.count else {
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

    public var description: String {
        text
    }

    // `segments` is derived from `text`, so comparing the text alone is both sufficient and cheaper.
    public static func == (lhs: TopicPattern, rhs: TopicPattern) -> Bool {
        lhs.text == rhs.text
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(text)
    }
}

/// How two patterns' sets of matching topics relate, for authorization: a subscription is
/// allowed outright when a permitted pattern covers it, filtered per topic when they only
/// overlap, and refused when they are disjoint.
extension TopicPattern {
    /// Whether every topic `other` matches is also matched by this pattern.
    public func covers(_ other: TopicPattern) -> Bool {
        for (position, segment) in self.segments.enumerated() {
            guard position < other.segments.count else { return false }
            let otherSegment = other.segments[position]
            switch segment {
            case .anyTail:
                // `**` takes one or more segments, and `other` has at least one more here.
                return true
            case .prefixedTail(let prefix):
                // Whatever follows is taken too, once this segment always extends the prefix.
                return otherSegment.alwaysExtends(prefix)
            case .anySegment, .prefixed, .literal:
                // A tail in `other` also matches topics longer than this pattern's rest allows for.
                guard !otherSegment.isTail, segment.coversSegment(otherSegment) else { return false }
            }
        }
        return self.segments.count == other.segments.count
    }

    /// Whether some topic is matched by both patterns.
    public func overlaps(_ other: TopicPattern) -> Bool {
        for position in 0..<max(self.segments.count, other.segments.count) {
            guard position < self.segments.count, position < other.segments.count else { return false }
            let (segment, otherSegment) = (self.segments[position], other.segments[position])
            // Some one segment must satisfy both here.
            guard segment.sharesSegment(with: otherSegment) else { return false }
            if segment.isTail || otherSegment.isTail {
                // A tail takes whatever the other pattern needs after this segment (`**` needs at
                // least one segment, which the other still has here).
                return true
            }
        }
        return true
    }
}

extension TopicPattern.Segment {
    /// `**` or `chat:**`: matches this segment and possibly more.
    fileprivate var isTail: Bool {
        switch self {
        case .anyTail, .prefixedTail: true
        case .literal, .anySegment, .prefixed: false
        }
    }

    /// The prefix a matching topic segment must extend, if any.
    private var prefix: String? {
        switch self {
        case .prefixed(let prefix), .prefixedTail(let prefix): prefix
        case .literal, .anySegment, .anyTail: nil
        }
    }

    /// Whether every topic segment that `other` admits here extends `prefix`.
    fileprivate func alwaysExtends(_ prefix: String) -> Bool {
        switch self {
        case .literal(let literal): TopicPattern.segment(literal, extends: prefix)
        case .prefixed(let own), .prefixedTail(let own): own.hasPrefix(prefix)
        case .anySegment, .anyTail: false
        }
    }

    /// Whether every topic segment that `other` admits here is admitted by this single-segment kind.
    fileprivate func coversSegment(_ other: Self) -> Bool {
        switch self {
        case .literal(let literal): other == .literal(literal)
        case .anySegment: true
        case .prefixed(let prefix): other.alwaysExtends(prefix)
        case .anyTail, .prefixedTail: true
        }
    }

    /// Whether some topic segment is admitted here by both.
    fileprivate func sharesSegment(with other: Self) -> Bool {
        switch (self, other) {
        case (.anySegment, _), (_, .anySegment), (.anyTail, _), (_, .anyTail):
            return true
        case (.literal(let literal), .literal(let otherLiteral)):
            return literal == otherLiteral
        case (.literal(let literal), _):
            return TopicPattern.segment(literal, extends: other.prefix!)
        case (_, .literal(let literal)):
            return TopicPattern.segment(literal, extends: self.prefix!)
        default:
            // Two prefixes: a segment extending the longer one extends both, if one starts the other.
            let (prefix, otherPrefix) = (self.prefix!, other.prefix!)
            return prefix.hasPrefix(otherPrefix) || otherPrefix.hasPrefix(prefix)
        }
    }
}

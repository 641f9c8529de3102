/// How two patterns' sets of matching topics relate, for authorization: a subscription is
/// allowed outright when a permitted pattern covers it, filtered per topic when they only
/// overlap, and refused when they are disjoint.
extension TopicPattern {
    /// Whether every topic `other` matches is also matched by this pattern.
    public func covers(_ other: TopicPattern) -> Bool {
        for (position, segment) in self.segments.enumerated() {
            guard position < other.segments.count else { return false }
            switch (segment, other.segments[position]) {
            case (.anyTail, _):
                // `**` takes one or more segments, and `other` has at least one more here.
                return true
            case (.anySegment, .anyTail):
                return false
            case (.anySegment, _):
                continue
            case (.literal(let literal), .literal(let otherLiteral)) where literal == otherLiteral:
                continue
            case (.literal, _):
                return false
            }
        }
        return self.segments.count == other.segments.count
    }

    /// Whether some topic is matched by both patterns.
    public func overlaps(_ other: TopicPattern) -> Bool {
        for position in 0..<max(self.segments.count, other.segments.count) {
            guard position < self.segments.count, position < other.segments.count else { return false }
            switch (self.segments[position], other.segments[position]) {
            case (.anyTail, _), (_, .anyTail):
                // Both still need at least one segment here, which `**` supplies.
                return true
            case (.literal(let literal), .literal(let otherLiteral)):
                guard literal == otherLiteral else { return false }
            case (.anySegment, _), (_, .anySegment):
                continue
            }
        }
        return true
    }
}

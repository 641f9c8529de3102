/// Subscriptions indexed by pattern segment, so routing a published topic costs
/// O(topic segments × wildcard branching) no matter how many subscriptions exist.
///
/// Every pattern is a path from the root: one edge per segment, taken by literal text, by `*`, by a
/// trailing `**`, or by the prefix of `chat:*` or a trailing `chat:**`. The node a path ends at
/// holds that pattern's subscribers. Nodes are classes so the hot path follows references instead
/// of copying nodes; value semantics are kept by copying the whole tree before mutating one that
/// another ``TopicTrie`` value shares.
package struct TopicTrie<Subscriber: Hashable> {
    @usableFromInline
    var root = Node()
    /// Subscriptions (subscriber and pattern) held.
    package private(set) var subscriptionCount = 0
    /// Distinct patterns with at least one subscriber.
    package private(set) var patternCount = 0

    /// An empty trie.
    package init() {}

    /// Whether no subscription is held.
    package var isEmpty: Bool {
        subscriptionCount == 0
    }

    /// Subscribes `subscriber` to `pattern`; returns `false` if it already was.
    @discardableResult
    package mutating func insert(_ subscriber: Subscriber, for pattern: TopicPattern) -> Bool {
        makeRootUnique()
        var node = root
        for segment in pattern.segments {
            node = node.child(for: segment)
        }
        if node.subscription == nil {
            node.subscription = Subscription(pattern: pattern, subscribers: [subscriber])
            patternCount += 1
        } else {
            guard node.subscription?.subscribers.insert(subscriber).inserted == true else {
                return false
            }
        }
        subscriptionCount += 1
        return true
    }

    /// Unsubscribes `subscriber` from `pattern`; returns `false` if it was not subscribed.
    ///
    /// Nodes left without subscribers or children are pruned, so churn does not grow the tree.
    @discardableResult
    package mutating func remove(_ subscriber: Subscriber, for pattern: TopicPattern) -> Bool {
        guard subscribers(of: pattern).contains(subscriber) else {
            return false
        }
        makeRootUnique()
        if root.remove(subscriber, along: pattern.segments[...]) {
            patternCount -= 1
        }
        subscriptionCount -= 1
        return true
    }

    /// Calls body once per subscribed pattern that matches `topic`, with that pattern's subscribers.
    ///
    /// Inlinable so callers in other modules get it specialized for their subscriber type: this runs
    /// for every published message.
    @inlinable
    package func forEachMatch(
        of topic: Topic,
        _ body: (TopicPattern, Set<Subscriber>) throws -> Void
    ) rethrows {
        try root.forEachMatch(in: topic.name, fromSegmentAt: topic.name.startIndex, body)
    }

    /// The subscribers of exactly `pattern` (not of other patterns that overlap it).
    package func subscribers(of pattern: TopicPattern) -> Set<Subscriber> {
        var node = root
        for segment in pattern.segments {
            guard let child = node.existingChild(for: segment) else {
                return []
            }
            node = child
        }
        return node.subscription?.subscribers ?? []
    }

    /// Calls body with every subscribed pattern and its number of subscribers, e.g. for metrics and admin views.
    package func forEachPattern(_ body: (TopicPattern, Int) throws -> Void) rethrows {
        try root.forEachSubscription { subscription in
            try body(subscription.pattern, subscription.subscribers.count)
        }
    }

    /// The number of nodes, including the root; lets tests prove that removal prunes.
    var nodeCount: Int {
        root.nodeCount
    }

    private mutating func makeRootUnique() {
        if !isKnownUniquelyReferenced(&root) {
            root = root.deepCopy()
        }
    }
}

// Nodes are only mutated through a root that `makeRootUnique` has made exclusive to one trie value,
// and nodes are never shared between two trees, so sending a trie is as safe as sending an Array.
extension TopicTrie: @unchecked Sendable where Subscriber: Sendable {}

extension TopicTrie {
    // Internal rather than private only so the inlinable matching path can reach it.
    @usableFromInline
    struct Subscription {
        @usableFromInline
        let pattern: TopicPattern
        @usableFromInline
        var subscribers: Set<Subscriber>
    }

    // Internal rather than private only so the inlinable matching path can reach it.
    @usableFromInline
    final class Node {
        @usableFromInline
        var literalChildren: [Substring: Node] = [:]
        @usableFromInline
        var anySegmentChild: Node?
        /// Reached by a trailing `**`; holds a subscription and never has children.
        @usableFromInline
        var anyTailChild: Node?
        /// Reached by `chat:*`, by prefix (`chat:`).
        @usableFromInline
        var prefixedChildren: [Substring: Node] = [:]
        /// Reached by a trailing `chat:**`, by prefix; like ``anyTailChild``, they have no children.
        @usableFromInline
        var prefixedTailChildren: [Substring: Node] = [:]
        /// The pattern whose path ends here, if it has subscribers.
        @usableFromInline
        var subscription: Subscription?

        var isEmpty: Bool {
            subscription == nil && literalChildren.isEmpty && anySegmentChild == nil && anyTailChild == nil
                && prefixedChildren.isEmpty && prefixedTailChildren.isEmpty
        }

        var nodeCount: Int {
            var count = 1
            for child in literalChildren.values {
                count += child.nodeCount
            }
            count += anySegmentChild?.nodeCount ?? 0
            count += anyTailChild?.nodeCount ?? 0
            for child in prefixedChildren.values {
                count += child.nodeCount
            }
            for child in prefixedTailChildren.values {
                count += child.nodeCount
            }
            return count
        }

        func existingChild(for segment: TopicPattern.Segment) -> Node? {
            switch segment {
            case .literal(let literal): literalChildren[Substring(literal)]
            case .anySegment: anySegmentChild
            case .anyTail: anyTailChild
            case .prefixed(let prefix): prefixedChildren[Substring(prefix)]
            case .prefixedTail(let prefix): prefixedTailChildren[Substring(prefix)]
            }
        }

        /// The child along `segment`, created if missing.
        func child(for segment: TopicPattern.Segment) -> Node {
            if let existing = existingChild(for: segment) {
                return existing
            }
            let child = Node()
            switch segment {
            case .literal(let literal): literalChildren[Substring(literal)] = child
            case .anySegment: anySegmentChild = child
            case .anyTail: anyTailChild = child
            case .prefixed(let prefix): prefixedChildren[Substring(prefix)] = child
            case .prefixedTail(let prefix): prefixedTailChildren[Substring(prefix)] = child
            }
            return child
        }

        private func removeChild(for segment: TopicPattern.Segment) {
            switch segment {
            case .literal(let literal): literalChildren[Substring(literal)] = nil
            case .anySegment: anySegmentChild = nil
            case .anyTail: anyTailChild = nil
            case .prefixed(let prefix): prefixedChildren[Substring(prefix)] = nil
            case .prefixedTail(let prefix): prefixedTailChildren[Substring(prefix)] = nil
            }
        }

        /// Removes a subscriber known to be subscribed to the pattern along `segments`, pruning emptied nodes.
        /// Returns whether that pattern lost its last subscriber.
        func remove(_ subscriber: Subscriber, along segments: ArraySlice<TopicPattern.Segment>) -> Bool {
            guard let segment = segments.first else {
                subscription?.subscribers.remove(subscriber)
                guard subscription?.subscribers.isEmpty == true else {
                    return false
                }
                subscription = nil
                return true
            }
            guard let child = existingChild(for: segment) else {
                return false
            }
            let patternEmptied = child.remove(subscriber, along: segments.dropFirst())
            if child.isEmpty {
                removeChild(for: segment)
            }
            return patternEmptied
        }

        /// Reports matches for the topic segments of `name` starting at `segmentStart`, of which there is at least one.
        ///
        /// Slices segments out of `name` in place, so matching allocates nothing.
        @inlinable
        func forEachMatch(
            in name: String,
            fromSegmentAt segmentStart: String.Index,
            _ body: (TopicPattern, Set<Subscriber>) throws -> Void
        ) rethrows {
            if let subscription = anyTailChild?.subscription {
                try body(subscription.pattern, subscription.subscribers)
            }
            let bytes = name.utf8
            let segmentEnd = bytes[segmentStart...].firstIndex(of: UInt8(ascii: ".")) ?? bytes.endIndex
            let nextSegmentStart = segmentEnd == bytes.endIndex ? nil : bytes.index(after: segmentEnd)
            // The emptiness check spares hashing the segment below nodes that only have wildcard children.
            if !literalChildren.isEmpty, let child = literalChildren[name[segmentStart..<segmentEnd]] {
                try child.continueMatch(in: name, fromSegmentAt: nextSegmentStart, body)
            }
            if let child = anySegmentChild {
                try child.continueMatch(in: name, fromSegmentAt: nextSegmentStart, body)
            }
            if !prefixedChildren.isEmpty || !prefixedTailChildren.isEmpty {
                try forEachPrefixMatch(in: name, segment: segmentStart..<segmentEnd, nextSegmentStart: nextSegmentStart, body)
            }
        }

        /// Follows the `chat:*` and `chat:**` edges whose prefix the segment extends: each `:`
        /// inside the segment, short of its last byte, ends one candidate prefix.
        @inlinable
        func forEachPrefixMatch(
            in name: String,
            segment: Range<String.Index>,
            nextSegmentStart: String.Index?,
            _ body: (TopicPattern, Set<Subscriber>) throws -> Void
        ) rethrows {
            let bytes = name.utf8
            var searchStart = segment.lowerBound
            while let colon = bytes[searchStart..<segment.upperBound].firstIndex(of: UInt8(ascii: ":")) {
                let prefixEnd = bytes.index(after: colon)
                guard prefixEnd < segment.upperBound else { return }
                let prefix = name[segment.lowerBound..<prefixEnd]
                if let subscription = prefixedTailChildren[prefix]?.subscription {
                    try body(subscription.pattern, subscription.subscribers)
                }
                if let child = prefixedChildren[prefix] {
                    try child.continueMatch(in: name, fromSegmentAt: nextSegmentStart, body)
                }
                searchStart = prefixEnd
            }
        }

        /// Reports this node's own subscription once the topic is used up, or keeps matching the rest of it.
        @inlinable
        func continueMatch(
            in name: String,
            fromSegmentAt segmentStart: String.Index?,
            _ body: (TopicPattern, Set<Subscriber>) throws -> Void
        ) rethrows {
            if let segmentStart {
                try forEachMatch(in: name, fromSegmentAt: segmentStart, body)
            } else if let subscription {
                try body(subscription.pattern, subscription.subscribers)
            }
        }

        func forEachSubscription(_ body: (Subscription) throws -> Void) rethrows {
            if let subscription {
                try body(subscription)
            }
            for child in literalChildren.values {
                try child.forEachSubscription(body)
            }
            try anySegmentChild?.forEachSubscription(body)
            try anyTailChild?.forEachSubscription(body)
            for child in prefixedChildren.values {
                try child.forEachSubscription(body)
            }
            for child in prefixedTailChildren.values {
                try child.forEachSubscription(body)
            }
        }

        func deepCopy() -> Node {
            let copy = Node()
            copy.literalChildren = literalChildren.mapValues { $0.deepCopy() }
            copy.anySegmentChild = anySegmentChild?.deepCopy()
            copy.anyTailChild = anyTailChild?.deepCopy()
            copy.prefixedChildren = prefixedChildren.mapValues { $0.deepCopy() }
            copy.prefixedTailChildren = prefixedTailChildren.mapValues { $0.deepCopy() }
            copy.subscription = subscription
            return copy
        }
    }
}

import ChorusCore

/// Parses each separator-delimited piece of the input as a topic and as a pattern, then routes
/// topics through a ``TopicTrie`` holding every valid pattern and checks it against
/// ``TopicPattern/matches(_:)``, the reference matcher.
enum TopicHarness {
    /// Routing is checked for every topic against every pattern, so the pieces are capped to
    /// keep an input's cost flat; a routing bug needs only a few patterns to show.
    static let maxPieces = 16

    static func run(_ input: UnsafeRawBufferPointer) {
        var fuzzInput = FuzzInput(input)
        var patterns: [TopicPattern] = []
        var topics: [Topic] = []
        for piece in fuzzInput.pieces().prefix(self.maxPieces) {
            let text = String(fuzzed: piece)
            let pattern = self.parse(text, wildcards: true, { text throws(TopicError) in try TopicPattern(text) })
            if let pattern {
                precondition(pattern.segments.count == text.split(separator: ".", omittingEmptySubsequences: false).count)
                patterns.append(pattern)
                // A topic the pattern surely matches, so matching is exercised beyond exact names.
                if let instance = self.instance(of: pattern) {
                    topics.append(instance)
                }
            }
            if let topic = self.parse(text, wildcards: false, { text throws(TopicError) in try Topic(text) }) {
                precondition(pattern?.isWildcard == false && pattern?.exactTopic == topic, "topic '\(text)' is not also an exact pattern")
                precondition(TopicPattern(topic) == pattern && TopicPattern(topic).segments == pattern?.segments)
                precondition(topic.segments.count <= Topic.maxSegmentCount && text.hasPrefix(topic.namespace))
                topics.append(topic)
            }
        }
        self.checkRouting(topics: topics, patterns: patterns)
    }

    /// Parses `text` as a topic or pattern and checks the verdict against ``TopicRules``.
    private static func parse<Parsed>(
        _ text: String,
        wildcards: Bool,
        _ parse: (String) throws(TopicError) -> Parsed
    ) -> Parsed? {
        let kind = wildcards ? "pattern" : "topic"
        do {
            let parsed = try parse(text)
            precondition(TopicRules.allow(text, wildcards: wildcards), "accepted \(kind) '\(text)' breaks the rules")
            return parsed
        } catch {
            precondition(!TopicRules.allow(text, wildcards: wildcards), "rejected \(kind) '\(text)' keeps the rules: \(error)")
            precondition(!error.description.isEmpty)
            return nil
        }
    }

    /// The pattern with `*` replaced by one segment and `**` by two, if that is still a valid topic.
    private static func instance(of pattern: TopicPattern) -> Topic? {
        let segments = pattern.segments.map { segment in
            switch segment {
            case .literal(let literal): literal
            case .anySegment: "x"
            case .anyTail: "x.y"
            case .prefixed(let prefix): prefix + "x"
            case .prefixedTail(let prefix): prefix + "x.y"
            }
        }
        let topic = try? Topic(segments.joined(separator: "."))
        if let topic {
            precondition(pattern.matches(topic), "'\(pattern)' does not match its own instance '\(topic)'")
        }
        return topic
    }

    private static func checkRouting(topics: [Topic], patterns: [TopicPattern]) {
        var trie = TopicTrie<Int>()
        for (subscriber, pattern) in patterns.enumerated() {
            precondition(trie.insert(subscriber, for: pattern))
            precondition(!trie.insert(subscriber, for: pattern), "'\(pattern)' subscribed twice")
        }
        precondition(trie.subscriptionCount == patterns.count && trie.patternCount == Set(patterns).count)

        for topic in topics {
            var routed: [Int] = []
            trie.forEachMatch(of: topic) { pattern, subscribers in
                precondition(pattern.matches(topic), "trie routed '\(topic)' to '\(pattern)'")
                routed.append(contentsOf: subscribers)
            }
            let expected = patterns.indices.filter { patterns[$0].matches(topic) }
            precondition(routed.sorted() == expected, "trie routed '\(topic)' to \(routed.sorted()), expected \(expected)")
        }

        for (subscriber, pattern) in patterns.enumerated().reversed() {
            precondition(trie.remove(subscriber, for: pattern))
            precondition(!trie.remove(subscriber, for: pattern), "'\(pattern)' unsubscribed twice")
        }
        precondition(trie.isEmpty && trie.patternCount == 0)
        trie.forEachPattern { pattern, _ in preconditionFailure("'\(pattern)' left in an empty trie") }
    }
}

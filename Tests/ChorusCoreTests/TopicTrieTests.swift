import ChorusTestSupport
import Testing

@testable import ChorusCore

@Suite struct TopicTrieTests {
    private struct Match: Hashable, Comparable, CustomStringConvertible, Sendable {
        let pattern: TopicPattern
        let subscriber: Int

        var description: String {
            "\(subscriber)→\(pattern)"
        }

        static func < (lhs: Match, rhs: Match) -> Bool {
            (lhs.pattern.text, lhs.subscriber) < (rhs.pattern.text, rhs.subscriber)
        }
    }

    /// Every (pattern, subscriber) pair `forEachMatch` reports, failing the test if a pattern is reported twice.
    private static func matches(of topic: Topic, in trie: TopicTrie<Int>) -> Set<Match> {
        var reportedPatterns: Set<TopicPattern> = []
        var matches: Set<Match> = []
        trie.forEachMatch(of: topic) { pattern, subscribers in
            #expect(reportedPatterns.insert(pattern).inserted, "\(pattern) reported twice for \(topic)")
            #expect(!subscribers.isEmpty, "\(pattern) reported without subscribers")
            for subscriber in subscribers {
                matches.insert(Match(pattern: pattern, subscriber: subscriber))
            }
        }
        return matches
    }

    private static func matchingPatterns(of topic: String, in trie: TopicTrie<Int>) throws -> Set<String> {
        Set(try matches(of: Topic(topic), in: trie).map(\.pattern.text))
    }

    private static func trie(subscribing patterns: [String]) throws -> TopicTrie<Int> {
        var trie = TopicTrie<Int>()
        for (subscriber, pattern) in patterns.enumerated() {
            trie.insert(subscriber, for: try TopicPattern(pattern))
        }
        return trie
    }

    @Test func startsEmpty() throws {
        let trie = TopicTrie<Int>()
        #expect(trie.isEmpty)
        #expect(trie.subscriptionCount == 0)
        #expect(trie.patternCount == 0)
        #expect(trie.nodeCount == 1)
        #expect(try Self.matchingPatterns(of: "a", in: trie).isEmpty)
    }

    @Test func insertCountsSubscriptionsAndPatterns() throws {
        var trie = TopicTrie<Int>()
        let chat = try TopicPattern("chat:general")
        let messages = try TopicPattern("messages.**")

        #expect(trie.insert(1, for: chat) == true)
        #expect(trie.insert(2, for: chat) == true)
        #expect(trie.insert(1, for: chat) == false, "duplicate subscription must be rejected")
        #expect(trie.insert(1, for: messages) == true)

        #expect(!trie.isEmpty)
        #expect(trie.subscriptionCount == 3)
        #expect(trie.patternCount == 2)
        #expect(trie.subscribers(of: chat) == [1, 2])
        #expect(trie.subscribers(of: messages) == [1])
        #expect(trie.subscribers(of: try TopicPattern("messages.*")).isEmpty)
        #expect(trie.subscribers(of: try TopicPattern("chat")).isEmpty)
    }

    @Test func removeReportsAbsenceAndPrunesEverything() throws {
        let patterns = ["a.b.c", "a.b", "a.*.c", "a.**", "**", "*", "x.y.z.**"]
        var trie = try Self.trie(subscribing: patterns)
        trie.insert(100, for: try TopicPattern("a.b.c"))
        #expect(trie.subscriptionCount == 8)
        #expect(trie.patternCount == 7)

        #expect(trie.remove(0, for: try TopicPattern("a.b")) == false, "subscriber 0 is on a.b.c, not a.b")
        #expect(trie.remove(0, for: try TopicPattern("never.subscribed")) == false)
        #expect(trie.subscriptionCount == 8)

        #expect(trie.remove(0, for: try TopicPattern("a.b.c")) == true)
        #expect(trie.remove(0, for: try TopicPattern("a.b.c")) == false, "already removed")
        #expect(trie.patternCount == 7, "a.b.c still has subscriber 100")
        #expect(trie.subscribers(of: try TopicPattern("a.b.c")) == [100])

        #expect(trie.remove(100, for: try TopicPattern("a.b.c")) == true)
        #expect(trie.patternCount == 6)
        #expect(try !Self.matchingPatterns(of: "a.b.c", in: trie).contains("a.b.c"))

        for (subscriber, pattern) in patterns.enumerated().dropFirst() {
            #expect(trie.remove(subscriber, for: try TopicPattern(pattern)) == true)
        }
        #expect(trie.isEmpty)
        #expect(trie.subscriptionCount == 0)
        #expect(trie.patternCount == 0)
        #expect(trie.nodeCount == 1, "only the root may remain")
    }

    @Test func removingOnePatternKeepsItsNeighbours() throws {
        var trie = try Self.trie(subscribing: ["a.b", "a.b.c", "a.*", "a.**"])
        let fullNodeCount = trie.nodeCount
        #expect(trie.remove(1, for: try TopicPattern("a.b.c")) == true)
        #expect(trie.nodeCount == fullNodeCount - 1)
        #expect(try Self.matchingPatterns(of: "a.b", in: trie) == ["a.b", "a.*", "a.**"])
        #expect(try Self.matchingPatterns(of: "a.b.c", in: trie) == ["a.**"])
    }

    @Test func singleWildcardMatchesExactlyOneSegment() throws {
        let trie = try Self.trie(subscribing: ["*.b", "messages.user.*", "*"])
        #expect(try Self.matchingPatterns(of: "x.b", in: trie) == ["*.b"])
        #expect(try Self.matchingPatterns(of: "x.y.b", in: trie).isEmpty)
        #expect(try Self.matchingPatterns(of: "messages.user.42", in: trie) == ["messages.user.*"])
        #expect(try Self.matchingPatterns(of: "messages.user", in: trie).isEmpty)
        #expect(try Self.matchingPatterns(of: "solo", in: trie) == ["*"])
    }

    @Test func tailWildcardMatchesOneOrMoreSegments() throws {
        let trie = try Self.trie(subscribing: ["a.**", "messages.**"])
        #expect(try Self.matchingPatterns(of: "a", in: trie).isEmpty)
        #expect(try Self.matchingPatterns(of: "a.b", in: trie) == ["a.**"])
        #expect(try Self.matchingPatterns(of: "a.b.c.d", in: trie) == ["a.**"])
        #expect(try Self.matchingPatterns(of: "messages.user.42", in: trie) == ["messages.**"])
        #expect(try Self.matchingPatterns(of: "messages.channel.7", in: trie) == ["messages.**"])
        #expect(try Self.matchingPatterns(of: "messages", in: trie).isEmpty)
    }

    @Test func bareTailWildcardMatchesEveryTopic() throws {
        let trie = try Self.trie(subscribing: ["**"])
        for topic in ["a", "chat:general", "a.b.c", Array(repeating: "z", count: 16).joined(separator: ".")] {
            #expect(try Self.matchingPatterns(of: topic, in: trie) == ["**"])
        }
    }

    @Test func reportsEveryMatchingPatternOnceWithAllItsSubscribers() throws {
        var trie = try Self.trie(subscribing: [
            "messages.user.42", "messages.user.*", "messages.*.42", "messages.**", "*.user.42", "**",
            "messages.user", "messages.user.43", "messages.user.42.x",
        ])
        trie.insert(7, for: try TopicPattern("messages.**"))
        let matches = Self.matches(of: try Topic("messages.user.42"), in: trie)
        #expect(
            Set(matches.map(\.pattern.text)) == [
                "messages.user.42", "messages.user.*", "messages.*.42", "messages.**", "*.user.42", "**",
            ]
        )
        #expect(matches.filter { $0.pattern.text == "messages.**" }.map(\.subscriber).sorted() == [3, 7])
    }

    @Test func bodyErrorsStopMatching() throws {
        struct Stop: Error {}
        let trie = try Self.trie(subscribing: ["a", "*", "**"])
        var calls = 0
        #expect(throws: Stop.self) {
            try trie.forEachMatch(of: try Topic("a")) { _, _ in
                calls += 1
                throw Stop()
            }
        }
        #expect(calls == 1)
    }

    @Test func forEachPatternListsEverySubscribedPattern() throws {
        var trie = try Self.trie(subscribing: ["a", "a.*", "a.**", "**", "b.c"])
        trie.insert(10, for: try TopicPattern("a.*"))
        trie.insert(11, for: try TopicPattern("a.*"))
        var counts: [String: Int] = [:]
        trie.forEachPattern { pattern, count in
            #expect(counts.updateValue(count, forKey: pattern.text) == nil, "\(pattern) listed twice")
        }
        #expect(counts == ["a": 1, "a.*": 3, "a.**": 1, "**": 1, "b.c": 1])
    }

    @Test func copiesAreIndependent() throws {
        var original = try Self.trie(subscribing: ["a.b"])
        var copy = original
        copy.insert(1, for: try TopicPattern("a.*"))
        copy.remove(0, for: try TopicPattern("a.b"))
        #expect(try Self.matchingPatterns(of: "a.b", in: original) == ["a.b"])
        #expect(try Self.matchingPatterns(of: "a.b", in: copy) == ["a.*"])

        original.insert(2, for: try TopicPattern("**"))
        #expect(try Self.matchingPatterns(of: "a.b", in: copy) == ["a.*"])
        #expect(original.subscriptionCount == 2)
        #expect(copy.subscriptionCount == 1)
    }

    // MARK: - Property test against the naive matcher

    /// SplitMix64: tiny, fast, and deterministic, so any failure reproduces from its seed.
    private struct SplitMix64: RandomNumberGenerator {
        private var state: UInt64

        init(seed: UInt64) {
            state = seed
        }

        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var mixed = state
            mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
            mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
            return mixed ^ (mixed >> 31)
        }
    }

    /// A small alphabet and few segments, so random patterns match often and every topic can be tried.
    /// `n:a` and `n:m:b` are segments that `n:*`, `n:m:*` and their tails can match.
    private static let alphabet = ["a", "b", "c", "n:a", "n:m:b"]

    /// Every topic of 1 to 5 segments over the alphabet: one segment longer than the longest pattern,
    /// so each pattern also meets topics that run past its end.
    private static func allTopics() throws -> [Topic] {
        var names = alphabet
        var longest = alphabet
        for _ in 2...5 {
            longest = longest.flatMap { prefix in alphabet.map { prefix + "." + $0 } }
            names += longest
        }
        return try names.map { try Topic($0) }
    }

    private static func randomPattern(using random: inout SplitMix64) throws -> TopicPattern {
        let count = Int.random(in: 1...4, using: &random)
        let segments = (0..<count).map { position in
            switch Int.random(in: 0..<12, using: &random) {
            case 0..<2: "*"
            case 2..<4 where position == count - 1: "**"
            case 4: ["n:*", "n:m:*"].randomElement(using: &random)!
            case 5 where position == count - 1: ["n:**", "n:m:**"].randomElement(using: &random)!
            default: alphabet.randomElement(using: &random)!
            }
        }
        return try TopicPattern(segments.joined(separator: "."))
    }

    /// For each of `topics`, the subscriptions whose pattern matches it by `TopicPattern.matches`,
    /// the reference. Computed on a thread of its own: millions of comparisons in a debug build
    /// would hold a cooperative thread for seconds, and the tests beside this one would starve.
    private static func naiveMatches(_ subscriptions: Set<Match>, topics: [Topic]) async throws -> [Set<Match>] {
        try await offCooperativePool {
            let subscriptionsByPattern = Dictionary(grouping: subscriptions, by: \.pattern)
            return topics.map { topic in
                var expected: Set<Match> = []
                for (pattern, patternSubscriptions) in subscriptionsByPattern where pattern.matches(topic) {
                    expected.formUnion(patternSubscriptions)
                }
                return expected
            }
        }
    }

    /// Checks `forEachMatch` against `TopicPattern.matches` over every inserted pair; returns how many pairs matched.
    private static func assertAgreesWithNaiveMatcher(_ trie: TopicTrie<Int>, subscriptions: Set<Match>) async throws -> Int {
        #expect(trie.subscriptionCount == subscriptions.count)
        #expect(trie.patternCount == Set(subscriptions.map(\.pattern)).count)
        let subscriptionsByPattern = Dictionary(grouping: subscriptions, by: \.pattern)
        var listedPatterns: [TopicPattern: Int] = [:]
        trie.forEachPattern { pattern, subscriberCount in
            listedPatterns[pattern] = subscriberCount
        }
        #expect(listedPatterns == subscriptionsByPattern.mapValues(\.count))

        var matchCount = 0
        let topics = try allTopics()
        for (topic, expected) in zip(topics, try await naiveMatches(subscriptions, topics: topics)) {
            let actual = matches(of: topic, in: trie)
            let missing = expected.subtracting(actual)
            let unexpected = actual.subtracting(expected)
            guard missing.isEmpty, unexpected.isEmpty else {
                Issue.record(
                    "topic \(topic): trie missed \(missing.sorted()), trie wrongly reported \(unexpected.sorted())"
                )
                // One counterexample is enough to debug; hundreds more would bury it.
                return matchCount
            }
            matchCount += actual.count
        }
        return matchCount
    }

    @Test(arguments: [1, 42, 0xC0FFEE, 0xDEAD_BEEF] as [UInt64])
    func agreesWithNaiveMatcher(seed: UInt64) async throws {
        var random = SplitMix64(seed: seed)
        var trie = TopicTrie<Int>()
        var subscriptions: Set<Match> = []

        for _ in 0..<3_000 {
            let subscription = Match(
                pattern: try Self.randomPattern(using: &random),
                subscriber: Int.random(in: 0..<20, using: &random)
            )
            let isNew = subscriptions.insert(subscription).inserted
            #expect(trie.insert(subscription.subscriber, for: subscription.pattern) == isNew)
        }
        #expect(subscriptions.count > 1_000, "generator should produce mostly distinct subscriptions")
        #expect(subscriptions.contains { $0.pattern.text.hasSuffix("**") })
        #expect(subscriptions.contains { $0.pattern.segments.contains(.anySegment) })
        #expect(subscriptions.contains { $0.pattern.segments.contains(.prefixed("n:m:")) })
        #expect(subscriptions.contains { $0.pattern.segments.last == .prefixedTail("n:") })

        let matchCount = try await Self.assertAgreesWithNaiveMatcher(trie, subscriptions: subscriptions)
        #expect(matchCount > 20_000, "topics should match often enough for the comparison to mean something")

        let removed = subscriptions.shuffled(using: &random).prefix(subscriptions.count / 2)
        for subscription in removed {
            #expect(trie.remove(subscription.subscriber, for: subscription.pattern) == true)
            #expect(trie.remove(subscription.subscriber, for: subscription.pattern) == false)
            subscriptions.remove(subscription)
        }
        _ = try await Self.assertAgreesWithNaiveMatcher(trie, subscriptions: subscriptions)

        var rebuilt = TopicTrie<Int>()
        for subscription in subscriptions {
            rebuilt.insert(subscription.subscriber, for: subscription.pattern)
        }
        #expect(trie.nodeCount == rebuilt.nodeCount, "removal must prune every node the remaining patterns do not need")

        for subscription in subscriptions {
            #expect(trie.remove(subscription.subscriber, for: subscription.pattern) == true)
        }
        #expect(trie.isEmpty)
        #expect(trie.patternCount == 0)
        #expect(trie.nodeCount == 1)
    }
}

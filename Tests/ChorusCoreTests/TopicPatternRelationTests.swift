import Testing

import ChorusCore

/// `covers` and `overlaps` checked against brute force: every pattern of up to three segments
/// over `a`, `b`, `*`, `**`, compared through the sets of topics (up to four segments over `a`,
/// `b`, `c`) that they match.
@Suite struct TopicPatternRelationTests {
    private static func combinations(of alphabet: [String], upTo length: Int) -> [[String]] {
        var result: [[String]] = [[]]
        var all: [[String]] = []
        for _ in 1...length {
            result = result.flatMap { prefix in alphabet.map { prefix + [$0] } }
            all += result
        }
        return all
    }

    private static let patterns: [TopicPattern] = combinations(of: ["a", "b", "*", "**"], upTo: 3).compactMap {
        try? TopicPattern($0.joined(separator: "."))
    }

    private static let topics: [Topic] = combinations(of: ["a", "b", "c"], upTo: 4).map {
        try! Topic($0.joined(separator: "."))
    }

    private static let matches: [String: Set<String>] = Dictionary(uniqueKeysWithValues: patterns.map { pattern in
        (pattern.text, Set(topics.filter { pattern.matches($0) }.map(\.name)))
    })

    @Test func coversMeansSuperset() {
        #expect(Self.patterns.count == 52)
        var covering = 0
        for outer in Self.patterns {
            for inner in Self.patterns {
                let expected = Self.matches[inner.text]!.isSubset(of: Self.matches[outer.text]!)
                #expect(outer.covers(inner) == expected, "\(outer) covers \(inner)")
                if expected { covering += 1 }
            }
        }
        // Not a vacuous check: both answers occur often.
        #expect(covering > 100 && covering < Self.patterns.count * Self.patterns.count - 100)
    }

    @Test func overlapsMeansCommonTopic() {
        var overlapping = 0
        for first in Self.patterns {
            for second in Self.patterns {
                let expected = !Self.matches[first.text]!.isDisjoint(with: Self.matches[second.text]!)
                #expect(first.overlaps(second) == expected, "\(first) overlaps \(second)")
                #expect(first.overlaps(second) == second.overlaps(first))
                if expected { overlapping += 1 }
            }
        }
        #expect(overlapping > 100 && overlapping < Self.patterns.count * Self.patterns.count - 100)
    }

    /// The same brute force over namespace wildcards: `n:*`, `n:m:*`, `n:**` against topics whose
    /// segments are `n:` (too short for `n:*`), `n:a`, `n:m:` and `n:m:a`.
    @Test func prefixWildcardRelationsAgreeWithBruteForce() {
        let patterns = Self.combinations(of: ["a", "n:a", "n:*", "n:m:*", "*", "**", "n:**", "n:m:**"], upTo: 3).compactMap {
            try? TopicPattern($0.joined(separator: "."))
        }
        let topics = Self.combinations(of: ["a", "n:", "n:a", "n:m:", "n:m:a"], upTo: 4).map { try! Topic($0.joined(separator: ".")) }
        let matches = patterns.map { pattern in Set(topics.filter { pattern.matches($0) }.map(\.name)) }
        var covering = 0
        var overlapping = 0
        for (first, firstMatches) in zip(patterns, matches) {
            for (second, secondMatches) in zip(patterns, matches) {
                let covers = secondMatches.isSubset(of: firstMatches)
                let overlaps = !firstMatches.isDisjoint(with: secondMatches)
                #expect(first.covers(second) == covers, "\(first) covers \(second)")
                #expect(first.overlaps(second) == overlaps, "\(first) overlaps \(second)")
                if covers { covering += 1 }
                if overlaps { overlapping += 1 }
            }
        }
        let pairs = patterns.count * patterns.count
        #expect(patterns.count > 200)
        #expect(covering > 1000 && covering < pairs - 1000)
        #expect(overlapping > 1000 && overlapping < pairs - 1000)
    }

    @Test func examples() throws {
        #expect(try TopicPattern("chat:**").covers(TopicPattern("chat:*")))
        #expect(try TopicPattern("*").covers(TopicPattern("chat:*")))
        #expect(try !TopicPattern("chat:*").covers(TopicPattern("*")))
        #expect(try TopicPattern("chat:*").overlaps(TopicPattern("chat:general")))
        #expect(try !TopicPattern("chat:*").overlaps(TopicPattern("game:*")))
        #expect(try TopicPattern("chat.**").covers(TopicPattern("chat.room.*")))
        #expect(try !TopicPattern("chat.*").covers(TopicPattern("chat.**")))
        #expect(try TopicPattern("chat.*").overlaps(TopicPattern("chat.**")))
        #expect(try !TopicPattern("chat.*").overlaps(TopicPattern("news.*")))
        #expect(try TopicPattern("**").covers(TopicPattern("user:alice")))
    }
}

@Suite struct TokenBucketTests {
    /// How many of `attempts` takes at `now` succeed (`#expect` cannot call mutating members).
    private static func taken(_ bucket: inout TokenBucket, _ attempts: Int = 1, at now: UInt64) -> Int {
        (0..<attempts).filter { _ in bucket.take(now: now) }.count
    }

    @Test func burstsToCapacityThenKeepsToRate() {
        var bucket = TokenBucket(rate: 10, capacity: 10, now: 0)
        #expect(Self.taken(&bucket, 11, at: 0) == 10)
        // 10 a second: one token every 100 ms, none before.
        #expect(Self.taken(&bucket, at: 99_000_000) == 0)
        #expect(Self.taken(&bucket, 2, at: 100_000_000) == 1)
        #expect(bucket.secondsUntilNextToken == 1)
        // Fractions of a millisecond are not lost between refills: 1 s in 0.5 ms steps gives 10.
        var total = 0
        for step in 1...2000 { total += Self.taken(&bucket, at: 100_000_000 + UInt64(step) * 500_000) }
        #expect(total == 10)
    }

    @Test func refillsToCapacityOnly() {
        var bucket = TokenBucket(rate: 1000, capacity: 5, now: 0)
        #expect(Self.taken(&bucket, 5, at: 0) == 5)
        #expect(!bucket.isFull(now: 1_000_000))
        #expect(bucket.isFull(now: 3_600_000_000_000))
        #expect(Self.taken(&bucket, 10, at: 3_600_000_000_000) == 5)
    }

    @Test func takesSeveralTokensAllOrNone() {
        var bucket = TokenBucket(rate: 10, capacity: 10, now: 0)
        let taken = [bucket.take(7, now: 0), bucket.take(4, now: 0), bucket.take(3, now: 0), bucket.take(1, now: 0), bucket.take(11, now: 3_600_000_000_000)]
        #expect(taken == [true, false, true, false, false])
    }

    @Test func throttleBurstsToItsCapacityAndRefillsAtItsRate() {
        var throttle = PublishThrottle(rate: 2, capacity: 6, now: 0)
        let burst = (0..<7).map { _ in throttle.check(now: 0) }
        let later = (0..<5).map { _ in throttle.check(now: 1_000_000_000) }
        #expect(burst == [.allowed, .allowed, .allowed, .allowed, .allowed, .allowed, .refused])
        #expect(later == [.allowed, .allowed, .refused, .refused, .abusive])
    }

    @Test func throttleClosesOnlyPastTwiceTheRate() {
        var throttle = PublishThrottle(rate: 5, now: 0)
        let verdicts = (0..<11).map { _ in throttle.check(now: 0) }
        #expect(verdicts.prefix(5).allSatisfy { $0 == .allowed })
        #expect(verdicts[5..<10].allSatisfy { $0 == .refused })
        #expect(verdicts[10] == .abusive)
        // A new second: the bucket has refilled and the refusal count starts over.
        var later = PublishThrottle(rate: 5, now: 0)
        _ = (0..<10).map { _ in later.check(now: 0) }
        let next = (0..<6).map { _ in later.check(now: 1_000_000_000) }
        #expect(next == [.allowed, .allowed, .allowed, .allowed, .allowed, .refused])
    }
}

import Testing

@testable import ChorusCore

@Suite struct RetryPolicyTests {
    let now: Int64 = 1_700_000_000_000

    @Test func standardWebhooksScheduleThenDeadLetter() {
        var generator = SeededGenerator(seed: 7)
        let policy = RetryPolicy.standardWebhooks
        #expect(policy.maxAttempts == 8)
        let expected: [Duration] = [.seconds(5), .seconds(300), .seconds(1800), .seconds(7200), .seconds(18000), .seconds(36000), .seconds(36000)]
        for (index, delay) in expected.enumerated() {
            let attempt = index + 1
            #expect(policy.delay(afterAttempt: attempt, using: &generator) == delay)
            #expect(policy.next(afterAttempt: attempt, outcome: .failed(), now: self.now, using: &generator) == .retry(at: self.now + delay.milliseconds))
        }
        #expect(policy.delay(afterAttempt: 8, using: &generator) == nil)
        #expect(policy.next(afterAttempt: 8, outcome: .failed(), now: self.now, using: &generator) == .deadLetter)
    }

    @Test(arguments: [
        (200, DeliveryOutcome.succeeded), (204, .succeeded), (299, .succeeded),
        (410, .gone),
        (300, .failed()), (302, .failed()), (400, .failed()), (401, .failed()), (404, .failed()), (408, .failed()),
        (413, .failed()), (422, .failed()), (429, .failed()), (500, .failed()), (502, .failed()), (503, .failed()),
    ])
    func classifiesHTTPStatuses(status: Int, outcome: DeliveryOutcome) {
        #expect(DeliveryOutcome.http(status: status) == outcome)
    }

    @Test func decisionPerOutcome() throws {
        var generator = SeededGenerator(seed: 7)
        let policy = try RetryPolicy.exponential(base: .seconds(1), cap: .seconds(60), maxAttempts: 5, jitter: .none)
        #expect(policy.next(afterAttempt: 1, outcome: .http(status: 200), now: self.now, using: &generator) == .delivered)
        #expect(policy.next(afterAttempt: 1, outcome: .http(status: 410), now: self.now, using: &generator) == .disable)
        #expect(policy.next(afterAttempt: 1, outcome: .http(status: 503), now: self.now, using: &generator) == .retry(at: self.now + 1000))
        #expect(policy.next(afterAttempt: 1, outcome: .failed(), now: self.now, using: &generator) == .retry(at: self.now + 1000))
        #expect(policy.next(afterAttempt: 1, outcome: .rejected, now: self.now, using: &generator) == .deadLetter)
        // 410 disables even on the last attempt: the endpoint is gone, not the event undeliverable.
        #expect(policy.next(afterAttempt: 5, outcome: .gone, now: self.now, using: &generator) == .disable)
        #expect(policy.next(afterAttempt: 5, outcome: .succeeded, now: self.now, using: &generator) == .delivered)
    }

    @Test func exponentialBackoffDoublesUpToTheCap() throws {
        var generator = SeededGenerator(seed: 7)
        let policy = try RetryPolicy.exponential(base: .seconds(1), cap: .seconds(10), maxAttempts: 7, jitter: .none)
        let delays = (1...7).map { policy.delay(afterAttempt: $0, using: &generator) }
        #expect(delays == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(10), .seconds(10), nil])
    }

    @Test func backoffNeverOverflows() throws {
        var generator = SeededGenerator(seed: 7)
        let policy = try RetryPolicy.exponential(base: .milliseconds(1), cap: .seconds(86_400 * 365), maxAttempts: .max, jitter: .none)
        #expect(policy.delay(afterAttempt: 1_000_000, using: &generator) == .seconds(86_400 * 365))
        let huge = try RetryPolicy.exponential(base: .seconds(Int64.max / 2), cap: .seconds(Int64.max), maxAttempts: 10, jitter: .none)
        #expect(huge.delay(afterAttempt: 9, using: &generator) != nil)
        #expect(huge.next(afterAttempt: 9, outcome: .failed(), now: self.now, using: &generator) == .retry(at: .max))
        // Just over half of the cap: one more doubling would overflow Int64.
        let nearCap = try RetryPolicy.exponential(base: .milliseconds(Int64.max / 2 + 1), cap: .milliseconds(Int64.max), maxAttempts: 10, jitter: .none)
        #expect(nearCap.delay(afterAttempt: 2, using: &generator) == .milliseconds(Int64.max))
    }

    @Test func fullJitterSpreadsOverZeroToTheBackoff() throws {
        var generator = SeededGenerator(seed: 7)
        let policy = try RetryPolicy.exponential(base: .seconds(1), cap: .seconds(60), maxAttempts: 10, jitter: .full)
        let delays = (0..<2000).map { _ in policy.delay(afterAttempt: 3, using: &generator)!.milliseconds }
        #expect(delays.allSatisfy { (0...4000).contains($0) })
        #expect(delays.contains { $0 < 1000 } && delays.contains { $0 > 3000 })
    }

    @Test func equalJitterKeepsAtLeastHalf() throws {
        var generator = SeededGenerator(seed: 7)
        let policy = try RetryPolicy.exponential(base: .seconds(1), cap: .seconds(60), maxAttempts: 10, jitter: .equal)
        let delays = (0..<2000).map { _ in policy.delay(afterAttempt: 3, using: &generator)!.milliseconds }
        #expect(delays.allSatisfy { (2000...4000).contains($0) })
        #expect(delays.contains { $0 < 2500 } && delays.contains { $0 > 3500 })
    }

    @Test func showsItsSettings() throws {
        #expect(RetryPolicy.standardWebhooks.backoff == .schedule([.seconds(5), .seconds(300), .seconds(1800), .seconds(7200), .seconds(18000), .seconds(36000), .seconds(36000)]))
        let policy = try RetryPolicy.exponential(base: .seconds(2), cap: .seconds(30), maxAttempts: 4, jitter: .equal, maxRetryAfter: .seconds(60))
        #expect(policy.backoff == .exponential(base: .seconds(2), cap: .seconds(30), jitter: .equal))
        #expect(policy.maxAttempts == 4)
        #expect(policy.maxRetryAfter == .seconds(60))
    }

    @Test func sameSeedSameDelays() throws {
        let policy = try RetryPolicy.exponential(base: .seconds(1), cap: .seconds(300), maxAttempts: 20)
        var first = SeededGenerator(seed: 42)
        var second = SeededGenerator(seed: 42)
        let one = (1..<20).map { policy.delay(afterAttempt: $0, using: &first) }
        let two = (1..<20).map { policy.delay(afterAttempt: $0, using: &second) }
        #expect(one == two)
    }

    @Test func retryAfterOnlyLengthensUpToItsBound() throws {
        var generator = SeededGenerator(seed: 7)
        let policy = try RetryPolicy.exponential(base: .seconds(5), cap: .seconds(60), maxAttempts: 3, jitter: .none, maxRetryAfter: .seconds(3600))
        func next(_ retryAfter: Duration?, attempt: Int = 1) -> RetryDecision {
            policy.next(afterAttempt: attempt, outcome: .http(status: 429, retryAfter: retryAfter), now: self.now, using: &generator)
        }
        #expect(next(.seconds(60)) == .retry(at: self.now + 60_000))
        #expect(next(.seconds(1)) == .retry(at: self.now + 5000))
        #expect(next(.seconds(-30)) == .retry(at: self.now + 5000))
        #expect(next(.seconds(7200)) == .retry(at: self.now + 3_600_000))
        #expect(next(.seconds(Int64.max)) == .retry(at: self.now + 3_600_000))
        // Retry-After asks when to come back, not for more attempts.
        #expect(next(.seconds(60), attempt: 3) == .deadLetter)
    }

    @Test func anEmptyScheduleMeansOneAttempt() throws {
        var generator = SeededGenerator(seed: 7)
        let policy = try RetryPolicy.schedule([])
        #expect(policy.maxAttempts == 1)
        #expect(policy.next(afterAttempt: 1, outcome: .failed(), now: self.now, using: &generator) == .deadLetter)
    }

    @Test func invalidSettingsAreRefusedWithAReason() {
        #expect(throws: RetryPolicyError("the retry base delay must be positive")) {
            try RetryPolicy.exponential(base: .zero, cap: .seconds(1), maxAttempts: 3)
        }
        #expect(throws: RetryPolicyError("the retry cap (1.0 seconds) must be at least the base delay (2.0 seconds)")) {
            try RetryPolicy.exponential(base: .seconds(2), cap: .seconds(1), maxAttempts: 3)
        }
        #expect(throws: RetryPolicyError("a delivery needs at least 1 attempt (max attempts is 0)")) {
            try RetryPolicy.exponential(base: .seconds(1), cap: .seconds(1), maxAttempts: 0)
        }
        #expect(throws: RetryPolicyError("retry delays cannot be negative")) {
            try RetryPolicy.schedule([.seconds(1), .seconds(-1)])
        }
        #expect(throws: RetryPolicyError("the Retry-After bound cannot be negative")) {
            try RetryPolicy.schedule([.seconds(1)], maxRetryAfter: .seconds(-1))
        }
    }

    @Test(arguments: [
        ("120", Duration.seconds(120)),
        ("  7 ", .seconds(7)),
        ("0", .zero),
        ("99999999999999999999999", .seconds(Int64.max)),
        // 784111777 is 1994-11-06T08:49:37Z; "now" is 30 seconds before it.
        ("Sun, 06 Nov 1994 08:49:37 GMT", .seconds(30)),
        ("Sunday, 06-Nov-94 08:49:37 GMT", .seconds(30)),
        ("Sun Nov  6 08:49:37 1994", .seconds(30)),
        // A date in the past is no delay.
        ("Sun, 06 Nov 1994 08:49:00 GMT", .zero),
    ])
    func readsRetryAfter(header: String, delay: Duration) {
        #expect(RetryAfter.delay(parsing: header, now: 784_111_747_000) == delay, "\(header)")
    }

    @Test(arguments: ["", "-5", "1.5", "soon", "Sun, 06 Nov 1994 08:49:37 CET", "Sun, 32 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Foo 1994 08:49:37 GMT"])
    func refusesOtherRetryAfterValues(header: String) {
        #expect(RetryAfter.delay(parsing: header, now: 0) == nil, "\(header)")
    }

    @Test func httpDatesAcrossLeapYears() {
        #expect(RetryAfter.epochMilliseconds(ofHTTPDate: "Thu, 29 Feb 2024 12:00:00 GMT") == 1_709_208_000_000)
        #expect(RetryAfter.epochMilliseconds(ofHTTPDate: "Thu, 01 Jan 1970 00:00:00 GMT") == 0)
        #expect(RetryAfter.epochMilliseconds(ofHTTPDate: "Wed, 31 Dec 1969 23:59:59 GMT") == -1000)
    }
}

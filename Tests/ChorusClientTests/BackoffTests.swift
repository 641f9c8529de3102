import ChorusClient
import Testing

@Suite struct BackoffTests {
    @Test func ceilingDoublesFromOneSecondToThirty() {
        let backoff = Backoff()
        let ceilings = (0..<8).map { backoff.ceiling(attempt: $0) }
        #expect(ceilings == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), .seconds(30), .seconds(30)])
    }

    @Test func delayIsFullJitterBetweenZeroAndTheCeiling() {
        let backoff = Backoff()
        #expect(backoff.delay(attempt: 3, random: 0) == .zero)
        #expect(backoff.delay(attempt: 3, random: 0.5) == .seconds(4))
        #expect(backoff.delay(attempt: 10, random: 0.5) == .seconds(15))
        for attempt in 0..<40 {
            let delay = backoff.delay(attempt: attempt)
            #expect(delay >= .zero && delay <= backoff.ceiling(attempt: attempt))
        }
    }

    @Test func hugeAttemptCountsStayAtTheCap() {
        #expect(Backoff().ceiling(attempt: 10_000) == .seconds(30))
        #expect(Backoff(base: .milliseconds(5), cap: .milliseconds(40)).ceiling(attempt: 2) == .milliseconds(20))
    }
}

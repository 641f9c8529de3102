import NIOCore

/// What one slice of a drain may still write: a number of copies and a time, whichever runs out
/// first. A copy costs anything from under a microsecond (many messages to one connection, one
/// system call) to over ten (one message alone, a system call each), so only a time bound keeps
/// a loop's other work (an HTTP publish's answer, pings) from waiting long behind a fan-out.
/// The clock is read once every ``clockEvery`` copies, not per copy.
struct SliceBudget {
    /// Copies written between two looks at the clock: at most about 0.2 ms of writing.
    static let clockEvery = 16

    private var spent = 0
    private var limit: Int
    private var nextLook: Int
    private let deadline: NIODeadline
    private let clock: () -> NIODeadline

    /// A slice of at most `copies` copies that ends once `time` has passed.
    init(copies: Int, time: TimeAmount, clock: @escaping () -> NIODeadline) {
        self.limit = copies
        self.clock = clock
        self.deadline = clock() + time
        self.nextLook = Self.clockEvery
    }

    /// Whether the slice may write another connection's copies.
    mutating func allowsMore() -> Bool {
        guard self.spent < self.limit else { return false }
        if self.spent >= self.nextLook {
            guard self.clock() < self.deadline else {
                self.limit = self.spent
                return false
            }
            self.nextLook = self.spent + Self.clockEvery
        }
        return true
    }

    /// Counts one copy written.
    mutating func spend() {
        self.spent += 1
    }
}

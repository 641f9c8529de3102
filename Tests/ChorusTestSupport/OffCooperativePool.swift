import Dispatch

/// Runs `work`, long CPU-bound synchronous test code (a corpus replay, a conformance suite), on a
/// Dispatch thread rather than one of Swift concurrency's few cooperative threads (as many as
/// cores): on a 2-core machine two such tests would otherwise hold every cooperative thread for
/// their whole length, and the async tests running beside them (a bus starting, a timeout)
/// would not get a turn.
public func offCooperativePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try work() })
        }
    }
}

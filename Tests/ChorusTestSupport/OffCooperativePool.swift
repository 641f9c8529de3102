import Foundation

/// Runs `work`, long CPU-bound synchronous test code (a corpus replay, a conformance suite), on a
/// thread of its own rather than one of Swift concurrency's few cooperative threads (as many as
/// cores): on a 2-core machine two such tests would otherwise hold every cooperative thread for
/// their whole length, and the async tests running beside them (a bus starting, a timeout)
/// would not get a turn. Not `DispatchQueue.global()`: on Linux its threads are the ones the
/// cooperative pool runs on, as few (a unit test run stalled 36–70 s at its start that way).
public func offCooperativePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}

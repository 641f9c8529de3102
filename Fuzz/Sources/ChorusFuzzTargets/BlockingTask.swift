import Dispatch

/// Runs async work to completion from the fuzzer's synchronous callback. Only for harnesses:
/// it blocks the calling thread, which must not be one of the concurrency pool's.
func runBlocking<Value: Sendable>(_ body: @escaping @Sendable () async -> Value) -> Value {
    let box = ResultBox<Value>()
    let done = DispatchSemaphore(value: 0)
    Task {
        box.value = await body()
        done.signal()
    }
    done.wait()
    return box.value!
}

/// The semaphore orders the task's write before the caller's read, so no lock is needed.
private final class ResultBox<Value>: @unchecked Sendable {
    var value: Value?
}

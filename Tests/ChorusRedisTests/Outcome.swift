import NIOCore
import Synchronization

/// What a future completed with, read without waiting (on an `EmbeddedEventLoop` futures
/// complete as the test drives the channel).
final class Outcome<Value: Sendable>: Sendable {
    private let result = Mutex<Result<Value, any Error>?>(nil)

    init(_ future: EventLoopFuture<Value>) {
        future.whenComplete { result in self.result.withLock { $0 = result } }
    }

    var value: Value? {
        self.result.withLock { try? $0?.get() }
    }

    var error: (any Error)? {
        self.result.withLock { result in
            if case .failure(let error) = result { error } else { nil }
        }
    }

    var isPending: Bool {
        self.result.withLock { $0 == nil }
    }
}

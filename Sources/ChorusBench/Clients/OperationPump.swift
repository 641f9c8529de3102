import NIOCore

/// Keeps up to `width` operations in flight on one event loop, starting the next as each one
/// ends, until `next` has no more. Used to open connections at a bounded pace and to run churn loops.
final class OperationPump {
    private let loop: any EventLoop
    private let width: Int
    private let next: () -> Int?
    private let operation: (Int) -> EventLoopFuture<Void>
    private let done: EventLoopPromise<Void>
    private var inFlight = 0
    private var exhausted = false
    private var finished = false

    init(loop: any EventLoop, width: Int, next: @escaping () -> Int?, operation: @escaping (Int) -> EventLoopFuture<Void>) {
        self.loop = loop
        self.width = max(1, width)
        self.next = next
        self.operation = operation
        self.done = loop.makePromise()
    }

    /// Starts the pump (on its loop); the future completes when every operation has ended.
    func run() -> EventLoopFuture<Void> {
        self.fill()
        return self.done.futureResult
    }

    private func fill() {
        while !self.exhausted && self.inFlight < self.width {
            guard let item = self.next() else {
                self.exhausted = true
                break
            }
            self.inFlight += 1
            self.operation(item).assumeIsolated().whenComplete { _ in
                self.inFlight -= 1
                self.fill()
            }
        }
        if self.exhausted && self.inFlight == 0 && !self.finished {
            self.finished = true
            self.done.succeed(())
        }
    }
}

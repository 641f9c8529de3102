import NIOCore

/// What a client writes into a connection's pipeline for ``RedisCommandHandler``.
enum RedisRequest: Sendable {
    /// One command; its reply completes the promise. No promise: a command Redis answers
    /// out of band (the subscribe family, whose confirmations are pushes).
    case command(RESPCommand, EventLoopPromise<RESPValue>?)
    /// Commands written together and flushed once; their replies, in order, complete the promise.
    case batch([RESPCommand], EventLoopPromise<[RESPValue]>)

    /// Fails the request's promise (a request that never reached the handler).
    func fail(_ error: RedisError) {
        switch self {
        case .command(_, let promise): promise?.fail(error)
        case .batch(_, let promise): promise.fail(error)
        }
    }
}

extension Channel {
    /// Writes `request` and flushes; if the write cannot reach the handler (a closed channel)
    /// the request fails with ``RedisError/Code/connectionClosed``.
    func send(_ request: RedisRequest) {
        self.writeAndFlush(request).whenFailure { error in
            request.fail(error as? RedisError ?? RedisError(.connectionClosed, "the connection closed: \(error)"))
        }
    }

    /// Sends `command` and returns its reply; an error reply fails with ``RedisError/Code/server``.
    func send(_ command: RESPCommand) -> EventLoopFuture<RESPValue> {
        let promise = self.eventLoop.makePromise(of: RESPValue.self)
        self.send(.command(command, promise))
        return promise.futureResult
    }
}

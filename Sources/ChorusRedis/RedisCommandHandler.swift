import NIOCore

/// Matches replies to commands on one connection: commands are written as they come
/// (pipelined), their promises wait in order, and each reply completes the oldest.
///
/// A command without a reply within the timeout fails with ``RedisError/Code/timeout`` and
/// the connection is closed, failing every later command too: a reply that came after would
/// be taken for the next command's. One timer runs, for the oldest command, whose deadline
/// is always the earliest. A close, or a reply the parser refuses, fails everything waiting.
final class RedisCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    /// Takes the replies that are not answers to commands (pub/sub pushes); returns true for those.
    typealias PushRouter = @Sendable (RESPValue) -> Bool

    private enum Waiter {
        case single(EventLoopPromise<RESPValue>)
        case batch(EventLoopPromise<[RESPValue]>, count: Int)
    }

    private struct Pending {
        var waiter: Waiter
        var command: String
        var deadline: NIODeadline
    }

    private let timeout: TimeAmount
    private let pushes: PushRouter?
    private var pending = CircularBuffer<Pending>()
    /// The replies so far of the batch at the head of `pending`.
    private var batchReplies: [RESPValue] = []
    private var timer: Scheduled<Void>?
    /// Set once the connection cannot be used: later writes fail with it.
    private var failure: RedisError?

    init(timeout: TimeAmount, pushes: PushRouter? = nil) {
        self.timeout = timeout
        self.pushes = pushes
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = Self.unwrapOutboundIn(data)
        if let failure = self.failure {
            request.fail(failure)
            promise?.fail(failure)
            return
        }
        let deadline = context.eventLoop.now + self.timeout
        switch request {
        case .command(let command, let reply):
            if let reply {
                self.enqueue(Pending(waiter: .single(reply), command: command.name, deadline: deadline), context: context)
            }
            context.write(Self.wrapOutboundOut(command.bytes), promise: promise)
        case .batch(let commands, let reply):
            guard let last = commands.last else {
                reply.succeed([])
                promise?.succeed()
                return
            }
            self.enqueue(Pending(waiter: .batch(reply, count: commands.count), command: commands[0].name, deadline: deadline), context: context)
            for command in commands.dropLast() {
                context.write(Self.wrapOutboundOut(command.bytes), promise: nil)
            }
            context.write(Self.wrapOutboundOut(last.bytes), promise: promise)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = Self.unwrapInboundIn(data)
        if let pushes = self.pushes, pushes(value) {
            return
        }
        guard let head = self.pending.first else {
            self.fail(context: context, RedisError(.protocolError, "the server sent a reply no command waits for: \(value)"))
            return
        }
        switch head.waiter {
        case .single(let promise):
            self.pending.removeFirst()
            if case .error(let message) = value {
                promise.fail(RedisError.server(String(buffer: message)))
            } else {
                promise.succeed(value)
            }
        case .batch(let promise, let count):
            self.batchReplies.append(value)
            guard self.batchReplies.count == count else { return }
            self.pending.removeFirst()
            let replies = self.batchReplies
            self.batchReplies = []
            promise.succeed(replies)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.fail(context: context, RedisError(.connectionClosed, "the connection closed before the reply came"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? RESPParseError {
            self.fail(context: context, RedisError(.protocolError, "\(error)"))
        } else {
            self.fail(context: context, RedisError(.connectionClosed, "the connection failed: \(error)"))
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.failAll(RedisError(.connectionClosed, "the connection closed before the reply came"))
    }

    private func enqueue(_ pending: Pending, context: ChannelHandlerContext) {
        self.pending.append(pending)
        self.scheduleTimer(context: context)
    }

    /// Runs the timer for the oldest command, if none runs.
    private func scheduleTimer(context: ChannelHandlerContext) {
        guard self.timer == nil, let head = self.pending.first else { return }
        self.timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: head.deadline) {
            self.timer = nil
            self.checkTimeout(context: context)
        }
    }

    private func checkTimeout(context: ChannelHandlerContext) {
        guard let head = self.pending.first else { return }
        guard head.deadline <= context.eventLoop.now else {
            self.scheduleTimer(context: context)
            return
        }
        self.pending.removeFirst()
        let error = RedisError(.timeout, "no reply to \(head.command) within \(Self.seconds(self.timeout))")
        switch head.waiter {
        case .single(let promise): promise.fail(error)
        case .batch(let promise, _): promise.fail(error)
        }
        self.fail(context: context, RedisError(.connectionClosed, "the connection was reset after \(head.command) timed out"))
    }

    /// Fails every waiting command with `error`, refuses later ones, and closes the connection.
    private func fail(context: ChannelHandlerContext, _ error: RedisError) {
        guard self.failure == nil else { return }
        self.failure = error
        self.failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: RedisError) {
        self.timer?.cancel()
        self.timer = nil
        self.batchReplies = []
        while let pending = self.pending.popFirst() {
            switch pending.waiter {
            case .single(let promise): promise.fail(error)
            case .batch(let promise, _): promise.fail(error)
            }
        }
    }

    private static func seconds(_ amount: TimeAmount) -> String {
        let milliseconds = amount.nanoseconds / 1_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
    }
}

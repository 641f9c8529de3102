import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Creates the stream a JetStream run publishes to, anew (deleting one of that name first), so
/// every run starts from an empty stream: file storage, on the subjects the publishers use, with
/// a deduplication window as long as Chorus's default idempotency window (1 hour).
enum JetStreamAdmin {
    static func recreateStream(_ name: String, subjects: String, host: String, port: Int, group: any EventLoopGroup) async throws {
        let handler = RequestHandler()
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) } }
            .connect(host: host, port: port)
            .get()
        defer { channel.close(promise: nil) }
        _ = try await handler.request("$JS.API.STREAM.DELETE.\(name)", payload: "", on: channel)
        let config = #"{"name":"\#(name)","subjects":["\#(subjects)"],"storage":"file","retention":"limits","discard":"old","num_replicas":1,"duplicate_window":3600000000000}"#
        let answer = try await handler.request("$JS.API.STREAM.CREATE.\(name)", payload: config, on: channel)
        if answer.contains(#""error""#) || !answer.contains(#""config""#) {
            throw BenchError("JetStream refused to create the stream \(name) (is nats-server running with -js?): \(answer.prefix(300))")
        }
    }

    /// Sends requests on one connection and completes each with the answer on its reply subject.
    private final class RequestHandler: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        private struct State {
            var pending = ByteBuffer()
            var waiting: [String: EventLoopPromise<String>] = [:]
            var next = 0
        }
        private let state = NIOLockedValueBox(State())

        func channelActive(context: ChannelHandlerContext) {
            var buffer = context.channel.allocator.buffer(capacity: 256)
            NATSWire.connect(into: &buffer)
            NATSWire.subscribe("_INBOX.admin.*", sid: "1", into: &buffer)
            context.writeAndFlush(Self.wrapOutboundOut(buffer), promise: nil)
        }

        func request(_ subject: String, payload: String, on channel: any Channel) async throws -> String {
            let promise = channel.eventLoop.makePromise(of: String.self)
            let reply = self.state.withLockedValue { state in
                state.next += 1
                let reply = "_INBOX.admin.\(state.next)"
                state.waiting[reply] = promise
                return reply
            }
            var buffer = channel.allocator.buffer(capacity: payload.utf8.count + 64)
            NATSWire.publish(subject, reply: reply, payload: ByteBuffer(string: payload), into: &buffer)
            channel.writeAndFlush(buffer, promise: nil)
            let timeout = channel.eventLoop.scheduleTask(in: .seconds(10)) {
                // Failed only if still waiting: an answer that came first completed it.
                self.state.withLockedValue { $0.waiting.removeValue(forKey: reply) }?.fail(BenchError("JetStream: no answer to \(subject) within 10 s"))
            }
            promise.futureResult.whenComplete { _ in timeout.cancel() }
            return try await promise.futureResult.get()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = Self.unwrapInboundIn(data)
            let answers: [(EventLoopPromise<String>, String)]
            do {
                answers = try self.state.withLockedValue { state in
                    state.pending.writeBuffer(&buffer)
                    return try NATSWire.consume(from: &state.pending).compactMap { operation in
                        guard case .message(let subject, _, _, let payload) = operation, let promise = state.waiting.removeValue(forKey: subject) else { return nil }
                        return (promise, String(buffer: payload))
                    }
                }
            } catch {
                self.errorCaught(context: context, error: error)
                return
            }
            for (promise, text) in answers { promise.succeed(text) }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            let waiting = self.state.withLockedValue { state in
                defer { state.waiting = [:] }
                return Array(state.waiting.values)
            }
            for promise in waiting { promise.fail(error) }
            context.close(promise: nil)
        }
    }
}

import NIOCore
import NIOHTTP1

/// One keep-alive HTTP connection that publishes: it sends a stamped publish, waits for the
/// answer, and sends the next when it is due, until the plan's deadline.
final class PublisherHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let plan: PublishPlan
    private let source: Int
    /// When this connection's first publish is due, after the plan's start.
    private let phaseNanoseconds: UInt64
    private let done: EventLoopPromise<PublishOutcome>
    private var outcome: PublishOutcome
    private var sequences: [Int]
    private var sent = 0
    private var inFlight: (topic: Int, sentAt: UInt64)?
    private var status: HTTPResponseStatus = .ok
    private var finished = false

    init(plan: PublishPlan, source: Int, phaseNanoseconds: UInt64, done: EventLoopPromise<PublishOutcome>) {
        self.plan = plan
        self.source = source
        self.phaseNanoseconds = phaseNanoseconds
        self.done = done
        self.outcome = PublishOutcome(topics: plan.topics)
        self.sequences = Array(repeating: 0, count: plan.topics)
    }

    func channelActive(context: ChannelHandlerContext) {
        // A server that stops answering (a backlog it cannot work off) must not hold the run:
        // a publish still unanswered this long after the deadline is given up.
        let now = NIODeadline.now().uptimeNanoseconds
        let giveUp = self.plan.deadlineNanoseconds > now ? self.plan.deadlineNanoseconds - now : 0
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: .nanoseconds(Int64(giveUp)) + Self.answerGrace) {
            let (handler, context) = bound.value
            guard !handler.finished else { return }
            handler.outcome.errors.add("a publish was still unanswered \(Self.answerGrace.nanoseconds / 1_000_000_000) s after the run")
            handler.finish()
            context.close(promise: nil)
        }
        self.sendNext(context: context)
        context.fireChannelActive()
    }

    private static let answerGrace = TimeAmount.seconds(10)

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            self.status = head.status
        case .body:
            break
        case .end:
            guard let request = self.inFlight else { return }
            self.inFlight = nil
            let now = NIODeadline.now().uptimeNanoseconds
            if (200..<300).contains(self.status.code) {
                self.outcome.published[request.topic] += 1
                LatencyHistogram.record(&self.outcome.latency, sent: request.sentAt, received: now)
            } else {
                self.outcome.errors.add("publish answered HTTP \(self.status.code)")
            }
            self.sendNext(context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !self.finished {
            self.outcome.errors.add("the server closed a publisher connection")
        }
        self.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.outcome.errors.add("publisher: \(error)")
        context.close(promise: nil)
    }

    private func sendNext(context: ChannelHandlerContext) {
        let now = NIODeadline.now().uptimeNanoseconds
        let due = self.plan.startNanoseconds + self.phaseNanoseconds + UInt64(self.sent) * self.plan.intervalNanoseconds
        guard now < self.plan.deadlineNanoseconds && due < self.plan.deadlineNanoseconds else {
            self.finish()
            context.close(promise: nil)
            return
        }
        if due > now {
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .nanoseconds(Int64(due - now))) {
                let (handler, context) = loopBound.value
                handler.send(context: context)
            }
        } else {
            self.send(context: context)
        }
    }

    private func send(context: ChannelHandlerContext) {
        let topicIndex = (self.source + self.sent) % self.plan.topics
        let topic = FleetSpec.topic(prefix: self.plan.topicPrefix, index: topicIndex)
        self.sent += 1
        self.sequences[topicIndex] += 1
        let now = NIODeadline.now().uptimeNanoseconds
        let stamp = BenchStamp(source: self.source, sequence: self.sequences[topicIndex], sentNanoseconds: now)
        let body = self.plan.serverProtocol.publishBody(
            topic: topic, encoding: self.plan.payloadEncoding, payload: { stamp.write(into: &$0, size: self.plan.payloadSize) }, allocator: context.channel.allocator
        )
        let binary = self.plan.serverProtocol == .chorus && self.plan.payloadEncoding == .binary
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: self.plan.endpoint(for: self.source).hostHeader)
        headers.add(name: "Content-Type", value: binary ? "application/octet-stream" : "application/json")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        if let key = self.plan.apiKey { headers.add(name: "Authorization", value: "Bearer \(key)") }
        var uri = self.plan.endpoint(for: self.source).target(topic: topic)
        // A binary publish names its topic in the path: POST /api/publish/{topic}.
        if binary { uri = uri.split(separator: "?", maxSplits: 1).first.map(String.init).map { $0 + "/" + topic } ?? uri }
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: uri, headers: headers)
        self.inFlight = (topicIndex, now)
        context.write(Self.wrapOutboundOut(.head(head)), promise: nil)
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
    }

    private func finish() {
        guard !self.finished else { return }
        self.finished = true
        self.done.succeed(self.outcome)
    }
}

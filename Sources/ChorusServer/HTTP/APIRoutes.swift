import ChorusCore
import Foundation
import Hummingbird
import NIOCore

/// The HTTP API of protocol v1: publishing from backends, and what the hub holds.
struct APIRoutes: Sendable {
    let hub: Hub
    let startedAt = Date()

    func register(on router: Router<ChorusRequestContext>) {
        router.get("/health") { _, _ in Self.json(["status": "ok"]) }
        router.get("/ready") { _, _ in Self.json(["status": "ready"]) }
        router.get("/metrics") { _, _ in
            self.hub.metrics.setTopicCount(try await self.hub.topicCount())
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: self.hub.metrics.exposition()))
            )
        }
        let api = router.group("/api").add(middleware: APIRateLimitMiddleware(limits: self.hub.limits, apiKey: self.hub.configuration.apiKey))
        api.post("/publish") { request, _ in try await self.publish(request) }
        api.post("/broadcast") { request, _ in try await self.broadcast(request) }
        api.post("/users/:user/send") { request, context in
            try await self.sendToUser(request, user: try Self.pathParameter("user", of: context))
        }
        api.post("/users/:user/disconnect") { request, context in
            try await self.disconnectUser(request, user: try Self.pathParameter("user", of: context))
        }
        api.get("/topics") { request, _ in try await self.topics(request) }
        api.get("/topics/:topic/history") { request, context in
            try await self.history(request, topic: try Self.pathParameter("topic", of: context))
        }
        api.get("/connections") { request, _ in try await self.connections(request) }
        api.get("/stats") { request, _ in try await self.stats(request) }
    }

    // MARK: Publishing

    private func publish(_ request: Request) async throws -> Response {
        let access = try self.clientAccess(request)
        let body = try await self.jsonBody(request)
        let topic = try body.topic("topic")
        try access.authorizePublish(to: topic)
        let receipt = try await self.hub.publishAndWait(topic: topic, event: try body.optionalString("event"), data: try body.required("data").bytes)
        return Self.receipt(receipt)
    }

    private func broadcast(_ request: Request) async throws -> Response {
        let access = try self.clientAccess(request)
        let body = try await self.jsonBody(request)
        let topicsValue = try body.required("topics")
        guard topicsValue.kind == .array,
            let names = try? JSONSerialization.jsonObject(with: Data(topicsValue.bytes.readableBytesView)) as? [String],
            !names.isEmpty
        else {
            throw ProtocolError(.badRequest, "field 'topics' must be a non-empty array of topic names")
        }
        var topics: [Topic] = []
        for name in names {
            do {
                topics.append(try Topic(name))
            } catch {
                throw ProtocolError(.badRequest, "invalid topic '\(name)': \(error.description)")
            }
        }
        for topic in topics { try access.authorizePublish(to: topic) }
        let event = try body.optionalString("event")
        let data = try body.required("data").bytes
        var results: [[String: Any]] = []
        for topic in topics {
            let receipt = try await self.hub.publishAndWait(topic: topic, event: event, data: data)
            var result: [String: Any] = ["topic": topic.name, "message_id": receipt.messageID]
            if let offset = receipt.offset { result["offset"] = offset }
            if let epoch = receipt.epoch { result["epoch"] = epoch }
            results.append(result)
        }
        return Self.json(["results": results])
    }

    private func sendToUser(_ request: Request, user: String) async throws -> Response {
        try self.authorize(request, publishing: false)
        let body = try await self.jsonBody(request)
        let receipt = try self.hub.send(toUser: user, event: try body.optionalString("event"), data: try body.required("data").bytes)
        return Self.receipt(receipt)
    }

    private func disconnectUser(_ request: Request, user: String) async throws -> Response {
        try self.authorize(request, publishing: false)
        var reason = "disconnected by the server"
        var reconnect = false
        if let body = try await self.optionalJSONBody(request) {
            reason = try body.optionalString("reason") ?? reason
            if let value = body["reconnect"] {
                guard let flag = value.bool else { throw ProtocolError(.badRequest, "field 'reconnect' must be true or false") }
                reconnect = flag
            }
        }
        self.hub.disconnect(user: user, reason: reason, reconnect: reconnect)
        return Self.json(["user": user, "status": "disconnecting"], status: .accepted)
    }

    // MARK: History

    /// `GET /api/topics/{topic}/history?since=N&limit=M`: offsets greater than `since`, oldest first.
    private func history(_ request: Request, topic name: String) async throws -> Response {
        let access = try self.clientAccess(request)
        let topic: Topic
        do {
            topic = try Topic(name)
        } catch {
            throw ProtocolError(.badRequest, "invalid topic '\(name)': \(error.description)")
        }
        guard access.mayRead(topic) else {
            throw ProtocolError(.forbidden, "not allowed to read '\(topic.name)'")
        }
        let query = request.uri.queryParameters
        let since = try Self.integer(query.get("since"), name: "since", default: 0, range: 0...UInt64(Int64.max))
        let limit = try Self.integer(query.get("limit"), name: "limit", default: 100, range: 1...1000)
        let page = try await self.hub.history(of: topic, after: since, limit: Int(limit))
        var body = ByteBuffer()
        body.writeStaticString(#"{"topic":"#)
        body.writeJSONString(topic.name)
        body.writeStaticString(#","epoch":"#)
        if let epoch = page.state?.epoch { body.writeJSONString(epoch) } else { body.writeStaticString("null") }
        body.writeStaticString(#","last_offset":"#)
        body.writeString(String(page.state?.lastOffset ?? 0))
        body.writeStaticString(#","messages":["#)
        for (index, message) in page.messages.enumerated() {
            if index > 0 { body.writeStaticString(",") }
            message.envelope.writeFrame(into: &body)
        }
        body.writeStaticString("]}")
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }

    private static func integer(_ text: String?, name: String, default value: UInt64, range: ClosedRange<UInt64>) throws -> UInt64 {
        guard let text else { return value }
        guard let number = UInt64(text), range.contains(number) else {
            throw ProtocolError(.badRequest, "'\(name)' must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    // MARK: Introspection

    private func topics(_ request: Request) async throws -> Response {
        try self.authorize(request, publishing: false)
        let snapshot = try await self.hub.snapshot()
        let topics = snapshot.subscribers.sorted { $0.key < $1.key }.map { ["topic": $0.key, "subscribers": $0.value] as [String: Any] }
        return Self.json(["topics": topics])
    }

    private func connections(_ request: Request) async throws -> Response {
        try self.authorize(request, publishing: false)
        let snapshot = try await self.hub.snapshot()
        let connections = snapshot.connections.sorted { $0.id < $1.id }.map { info -> [String: Any] in
            [
                "client": info.client,
                "user": info.user ?? NSNull(),
                "transport": info.transport.rawValue,
                "remote_address": info.remoteAddress ?? NSNull(),
                "connected_at": info.connectedAt,
            ]
        }
        return Self.json(["connections": connections])
    }

    private func stats(_ request: Request) async throws -> Response {
        try self.authorize(request, publishing: false)
        let snapshot = try await self.hub.snapshot()
        var byTransport: [String: Int] = [:]
        for transport in TransportKind.allCases { byTransport[transport.rawValue] = 0 }
        for connection in snapshot.connections { byTransport[connection.transport.rawValue, default: 0] += 1 }
        let totals = self.hub.metrics.totals()
        return Self.json([
            "connections": ["total": snapshot.connections.count, "by_transport": byTransport] as [String: Any],
            "subscriptions": snapshot.subscriptionCount,
            "topics": snapshot.subscribers.count,
            "messages": ["published": totals.published, "delivered": totals.delivered, "bytes_out": totals.bytesOut],
            "errors": totals.errors,
            "uptime_seconds": Int(Date().timeIntervalSince(self.startedAt)),
        ])
    }

    // MARK: Helpers

    /// A path segment, percent-decoded (user ids and topics may hold `@`, `:`, spaces, `/`, …).
    private static func pathParameter(_ name: String, of context: ChorusRequestContext) throws -> String {
        let raw = try context.parameters.require(name)
        guard let value = raw.removingPercentEncoding, !value.isEmpty else {
            throw ProtocolError(.badRequest, "invalid \(name) in path: '\(raw)'")
        }
        return value
    }

    private func authorize(_ request: Request, publishing: Bool) throws {
        _ = try self.hub.authenticator.authorizeAPI(authorization: request.headers[.authorization], allowClientToken: publishing)
    }

    /// Authorizes an endpoint that client tokens may use too; what such a client may touch
    /// (nil for the API key: everything).
    private func clientAccess(_ request: Request) throws -> TopicAccess? {
        switch try self.hub.authenticator.authorizeAPI(authorization: request.headers[.authorization], allowClientToken: true) {
        case .admin: nil
        case .publisher(let identity): TopicAccess.make(for: identity, configuration: self.hub.configuration)
        }
    }

    private func jsonBody(_ request: Request) async throws -> JSONObject {
        guard let body = try await self.optionalJSONBody(request) else {
            throw ProtocolError(.badRequest, "the request needs a JSON object body")
        }
        return body
    }

    private func optionalJSONBody(_ request: Request) async throws -> JSONObject? {
        let limit = self.hub.configuration.maxMessageSize
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw ProtocolError(.tooLarge, "request body larger than \(limit) bytes")
        }
        guard buffer.readableBytes > 0 else { return nil }
        do {
            return try JSONObject(parsing: buffer)
        } catch {
            throw ProtocolError(.badRequest, "invalid JSON body: \(error.description)")
        }
    }

    private static func receipt(_ receipt: Hub.Receipt) -> Response {
        var body: [String: Any] = ["message_id": receipt.messageID]
        if let offset = receipt.offset { body["offset"] = offset }
        if let epoch = receipt.epoch { body["epoch"] = epoch }
        return Self.json(body)
    }

    static func json(_ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

import ChorusCore
import Foundation
import Hummingbird
import NIOCore

/// The HTTP API of protocol v1: publishing from backends, and what the hub holds.
struct APIRoutes: Sendable {
    let hub: Hub
    /// What `/metrics` serves; nil: no `/metrics` route.
    let metricsExposition: MetricsExposition?
    /// The event bus `/api/events/*` serves (APIRoutes+Events.swift); nil: those answer `not_found`.
    var events: EventBus? = nil
    /// The messages resource `/api/messages` serves (Messages/APIRoutes+Messages.swift); nil: those answer `not_found`.
    var messages: MessagesService? = nil
    let startedAt = Date()

    func register<Context: RemoteAddressRequestContext>(on router: some RouterMethods<Context>) {
        router.get("/health") { _, _ in Self.json(["status": "ok"]) }
        router.get("/ready") { _, _ in await self.ready() }
        if let exposition = self.metricsExposition {
            router.get("/metrics") { _, _ in
                try await self.hub.updateCountedGauges()
                return Response(
                    status: .ok,
                    headers: [.contentType: exposition.contentType],
                    body: .init(byteBuffer: ByteBuffer(bytes: exposition.render()))
                )
            }
        }
        let api = router.group("/api")
            .add(middleware: APIRequestGuardMiddleware(origins: OriginPolicy(allowed: self.hub.configuration.allowedOrigins)))
            .add(middleware: APIRateLimitMiddleware(limits: self.hub.limits, apiKey: self.hub.configuration.apiKey))
        api.post("/publish") { request, _ in try await self.publish(request) }
        api.post("/publish/:topic") { request, context in
            try await self.publishBinary(request, topic: try Self.pathParameter("topic", of: context))
        }
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
        api.get("/topics/:topic/presence") { request, context in
            try await self.presence(request, topic: try Self.pathParameter("topic", of: context))
        }
        api.get("/connections") { request, _ in try await self.connections(request) }
        api.get("/stats") { request, _ in try await self.stats(request) }
        api.get("/nodes") { request, _ in try await self.nodes(request) }
        // Web Push (Push/APIRoutes+Push.swift); 409 while no VAPID key is configured.
        api.get("/push/key") { request, _ in
            _ = try self.caller(request)
            return Self.json(["public_key": try self.pushService().publicKey])
        }
        api.post("/push/subscriptions") { request, _ in try await self.addPushSubscription(request) }
        api.get("/push/subscriptions") { request, _ in try await self.pushSubscriptions(request) }
        api.delete("/push/subscriptions/:id") { request, context in
            try await self.removePushSubscription(request, id: try Self.pathParameter("id", of: context))
        }
        api.post("/push/send") { request, _ in try await self.sendPush(request) }
        // The event bus (EventBus/APIRoutes+Events.swift); API key only.
        api.post("/events/publish") { request, _ in try await self.publishEvents(request) }
        api.get("/events/stats") { request, _ in try await self.eventStats(request) }
        api.get("/events/topics") { request, _ in try await self.eventTopics(request) }
        api.get("/events/topic-stats") { request, _ in try await self.eventTopicStats(request) }
        api.get("/events/log") { request, _ in try await self.eventLog(request) }
        api.get("/events/dlq") { request, _ in try await self.deadLetters(request) }
        api.post("/events/dlq/retry") { request, _ in try await self.changeDeadLetters(request, retry: true) }
        api.delete("/events/dlq/clear") { request, _ in try await self.changeDeadLetters(request, retry: false) }
        api.post("/events/replay") { request, _ in try await self.replay(request) }
        api.get("/events/consumers") { request, _ in try await self.listConsumers(request) }
        api.get("/events/consumers/:name") { request, context in
            try await self.consumer(request, name: try Self.pathParameter("name", of: context))
        }
        api.put("/events/consumers/:name") { request, context in
            try await self.putConsumer(request, name: try Self.pathParameter("name", of: context))
        }
        api.delete("/events/consumers/:name") { request, context in
            try await self.deleteConsumer(request, name: try Self.pathParameter("name", of: context))
        }
        api.get("/events/schemas") { request, _ in try await self.listSchemas(request) }
        api.get("/events/schemas/:type") { request, context in
            try await self.schema(request, type: try Self.pathParameter("type", of: context))
        }
        api.put("/events/schemas/:type") { request, context in
            try await self.putSchema(request, type: try Self.pathParameter("type", of: context))
        }
        api.delete("/events/schemas/:type") { request, context in
            try await self.deleteSchema(request, type: try Self.pathParameter("type", of: context))
        }
        // Sync collections (Sync/APIRoutes+Sync.swift).
        api.get("/collections/:collection/records") { request, context in try await self.syncRecords(request, context) }
        api.post("/collections/:collection/records") { request, context in try await self.syncInsert(request, context) }
        api.get("/collections/:collection/records/:id") { request, context in try await self.syncRecord(request, context) }
        api.put("/collections/:collection/records/:id") { request, context in try await self.syncPut(request, context) }
        api.patch("/collections/:collection/records/:id") { request, context in try await self.syncPatch(request, context) }
        api.delete("/collections/:collection/records/:id") { request, context in try await self.syncDelete(request, context) }
        // The messages resource (Messages/APIRoutes+Messages.swift).
        api.post("/messages") { request, _ in try await self.sendMessage(request) }
        api.get("/messages") { request, _ in try await self.listMessages(request) }
        api.get("/messages/:id") { request, context in try await self.getMessage(request, id: try Self.pathParameter("id", of: context)) }
        api.patch("/messages/:id") { request, context in try await self.patchMessage(request, id: try Self.pathParameter("id", of: context)) }
        api.delete("/messages/:id") { request, context in try await self.deleteMessage(request, id: try Self.pathParameter("id", of: context)) }
    }

    // MARK: Publishing

    private func publish(_ request: Request) async throws -> Response {
        let caller = try self.caller(request)
        let body = try await self.jsonBody(request)
        let topic = try body.topic("topic")
        try self.access(of: caller).authorizePublish(to: topic)
        try self.admitPublishes(1, by: caller)
        let key = try body.idempotencyKey(allowingNull: false).map { IdempotencyKey(publisher: caller.publisher, topic: topic.name, key: $0) }
        // Reserved for the event bus and not used yet, but typed as documented.
        for reserved in ["partition_key", "correlation_id"] { _ = try body.optionalString(reserved, allowingNull: false) }
        let receipt = try await self.hub.publishAndWait(
            topic: topic,
            event: try body.optionalString("event", allowingNull: false),
            data: try body.required("data").bytes,
            idempotencyKey: key
        )
        return Self.receipt(receipt)
    }

    /// `POST /api/publish/{topic}` with `Content-Type: application/octet-stream`: the body is a
    /// binary message's data; `event` and `idempotency_key` come from the query.
    private func publishBinary(_ request: Request, topic name: String) async throws -> Response {
        guard let type = request.headers[.contentType], APIRequestGuardMiddleware<BasicRequestContext>.isBinary(type) else {
            throw ProtocolError(.unsupportedMediaType, "a binary publish sends its bytes as Content-Type: application/octet-stream (JSON goes to POST /api/publish)")
        }
        let caller = try self.caller(request)
        let query = request.uri.queryParameters
        let topic = try Self.topic(name)
        try self.access(of: caller).authorizePublish(to: topic)
        try self.admitPublishes(1, by: caller)
        let key = try query.get("idempotency_key").map {
            IdempotencyKey(publisher: caller.publisher, topic: topic.name, key: try PublishFrame.checkIdempotencyKey(String($0)))
        }
        let receipt = try await self.hub.publishAndWait(
            topic: topic,
            event: query.get("event").map { String($0) },
            data: try await self.body(request),
            binary: true,
            idempotencyKey: key
        )
        return Self.receipt(receipt)
    }

    private func broadcast(_ request: Request) async throws -> Response {
        let caller = try self.caller(request)
        let access = self.access(of: caller)
        let body = try await self.jsonBody(request)
        guard let elements = try body.required("topics").elements, !elements.isEmpty else {
            throw ProtocolError(.badRequest, "field 'topics' must be a non-empty array of topic names")
        }
        let limit = self.hub.configuration.maxBroadcastTopics
        guard elements.count <= limit else {
            self.hub.metrics.limitRejected(.broadcastTopics)
            throw ProtocolError(.tooLarge, "a broadcast may name at most \(limit) topics, not \(elements.count) (max_broadcast_topics)")
        }
        var topics: [Topic] = []
        for element in elements {
            guard let name = element.string else {
                throw ProtocolError(.badRequest, "field 'topics' must be a non-empty array of topic names")
            }
            do {
                topics.append(try Topic(name))
            } catch {
                throw ProtocolError(.badRequest, "invalid topic \(ProtocolError.quoted(name)): \(error.description)")
            }
        }
        for topic in topics { try access.authorizePublish(to: topic) }
        try self.admitPublishes(topics.count, by: caller)
        let event = try body.optionalString("event", allowingNull: false)
        let data = try body.required("data").bytes
        // All at once, so history topics share group commits; results keep the request's order.
        let receipts = try await withThrowingTaskGroup(of: (Int, Hub.Receipt).self) { group in
            for (index, topic) in topics.enumerated() {
                group.addTask { (index, try await self.hub.publishAndWait(topic: topic, event: event, data: data)) }
            }
            var receipts: [(Int, Hub.Receipt)] = []
            for try await receipt in group { receipts.append(receipt) }
            return receipts.sorted { $0.0 < $1.0 }.map(\.1)
        }
        let results = zip(topics, receipts).map { topic, receipt -> [String: Any] in
            Self.receiptFields(receipt).merging(["topic": topic.name]) { $1 }
        }
        return Self.json(["results": results])
    }

    /// A client token's publishes count against its user's budget of
    /// `max_publish_rate_per_connection` a second, as over WebSocket; the API key has none.
    func admitPublishes(_ count: Int, by caller: Authenticator.APIAccess) throws {
        guard case .publisher(let client) = caller else { return }
        try self.hub.limits.admitUserPublishes(client.user ?? "", count: count)
    }

    private func sendToUser(_ request: Request, user: String) async throws -> Response {
        try self.authorize(request, publishing: false)
        let body = try await self.jsonBody(request)
        let receipt = try self.hub.send(toUser: user, event: try body.optionalString("event", allowingNull: false), data: try body.required("data").bytes)
        return Self.receipt(receipt)
    }

    private func disconnectUser(_ request: Request, user: String) async throws -> Response {
        try self.authorize(request, publishing: false)
        var reason = "disconnected by the server"
        var reconnect = false
        if let body = try await self.optionalJSONBody(request)?.object {
            reason = try body.optionalString("reason", allowingNull: false) ?? reason
            if let value = body["reconnect"] {
                guard let flag = value.bool else { throw ProtocolError(.badRequest, "field 'reconnect' must be true or false") }
                reconnect = flag
            }
        }
        self.hub.disconnect(user: user, reason: reason, reconnect: reconnect)
        return Self.json(["user": user, "status": "disconnecting"], status: .accepted)
    }

    // MARK: History

    /// `GET /api/topics/{topic}/history?since=N&limit=M`: offsets greater than `since`, oldest
    /// first; `next_since` is where the next page starts (a page stops early at 1 MiB of data).
    /// `?order=desc&before=N&limit=M`: offsets less than `before` (default: all), newest first;
    /// `next_before` continues with older ones (null once `since`, default 0, is reached). Either
    /// order reads the window between `since` and `before`.
    private func history(_ request: Request, topic name: String) async throws -> Response {
        let access = try self.clientAccess(request)
        let topic = try Self.topic(name)
        guard access.mayRead(topic) else {
            throw ProtocolError(.forbidden, "not allowed to read '\(topic.name)'")
        }
        let query = request.uri.queryParameters
        let limit = try Self.integer(query.get("limit"), name: "limit", default: 100, range: 1...1000)
        let newestFirst: Bool
        switch query.get("order") ?? "asc" {
        case "asc": newestFirst = false
        case "desc": newestFirst = true
        default: throw ProtocolError(.badRequest, "'order' must be 'asc' (oldest first, from 'since') or 'desc' (newest first, before 'before')")
        }
        // The window is (since, before); the order says which end a page starts from.
        let since = try Self.integer(query.get("since"), name: "since", default: 0, range: 0...UInt64(Int64.max))
        let before = try query.get("before").map { try Self.integer($0, name: "before", default: 0, range: 1...UInt64(Int64.max)) }
        var page =
            newestFirst
            ? try await self.hub.history(of: topic, before: before, limit: Int(limit))
            : try await self.hub.history(of: topic, after: since, limit: Int(limit))
        let inWindow = { (message: StoredMessage) in message.offset > since && message.offset < (before ?? .max) }
        let complete = page.messages.allSatisfy(inWindow)
        page.messages = Array(page.messages.prefix(while: inWindow))
        var body = ByteBuffer()
        body.writeStaticString(#"{"topic":"#)
        body.writeJSONString(topic.name)
        body.writeStaticString(#","epoch":"#)
        if let epoch = page.state?.epoch { body.writeJSONString(epoch) } else { body.writeStaticString("null") }
        body.writeStaticString(#","last_offset":"#)
        body.writeString(String(page.state?.lastOffset ?? 0))
        if newestFirst {
            // The oldest offset of this page starts the next (older) one; null once none is older.
            body.writeStaticString(#","next_before":"#)
            if complete, let oldest = page.messages.last?.offset, oldest > since + 1 { body.writeString(String(oldest)) } else { body.writeStaticString("null") }
        } else {
            body.writeStaticString(#","next_since":"#)
            body.writeString(String(page.messages.last?.offset ?? since))
        }
        body.writeStaticString(#","messages":["#)
        for (index, message) in page.messages.enumerated() {
            if index > 0 { body.writeStaticString(",") }
            message.envelope.writeFrame(into: &body)
        }
        body.writeStaticString("]}")
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }

    // MARK: Presence

    /// `GET /api/topics/{topic}/presence`: the topic's members, oldest first, and its counts;
    /// with `limit` (0 to 1,000) at most that many, after `after` (the `next` of the page before),
    /// and `next` when members remain.
    private func presence(_ request: Request, topic name: String) async throws -> Response {
        let access = try self.clientAccess(request)
        let topic = try Self.topic(name)
        let query = request.uri.queryParameters
        let limit = try query.get("limit").map { try Self.integer($0, name: "limit", default: 0, range: 0...UInt64(PresencePage.maxLimit)) }
        let page = PresencePage(limit: limit.map { Int($0) }, after: try PresencePage.after(query.get("after").map { String($0) }))
        guard access.mayRead(topic) else {
            throw ProtocolError(.forbidden, "not allowed to read '\(topic.name)'")
        }
        guard let directory = self.hub.presence, self.hub.configuration.namespace(of: topic)?.presence == true else {
            throw ProtocolError(.notFound, "topic '\(topic.name)' has no presence: namespace '\(topic.namespace)' does not have \"presence\": true")
        }
        let snapshot: PresenceSnapshot
        do {
            snapshot = try await directory.members(of: topic, page: page, on: self.hub.shards[0].eventLoop).get()
        } catch {
            // A cluster's directory is Redis: while it is away, say so (503), not `internal`.
            throw error as? ProtocolError ?? ProtocolError(.unavailable, "presence is unavailable: \(error)")
        }
        var body = ByteBuffer()
        body.writeStaticString(#"{"topic":"#)
        body.writeJSONString(topic.name)
        body.writeStaticString(#","count":"#)
        body.writeString(String(snapshot.counts.clients))
        body.writeStaticString(#","users":"#)
        body.writeString(String(snapshot.counts.users))
        body.writeStaticString(#","members":"#)
        PresenceMember.writeList(snapshot.members, into: &body)
        if let next = snapshot.next {
            body.writeStaticString(#","next":"#)
            body.writeJSONString(next.text)
        }
        body.writeStaticString("}")
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }

    /// A topic named in a path; `bad_request` when invalid.
    static func topic(_ name: String) throws -> Topic {
        do {
            return try Topic(name)
        } catch {
            throw ProtocolError(.badRequest, "invalid topic \(ProtocolError.quoted(name)): \(error.description)")
        }
    }

    static func integer(_ text: String?, name: String, default value: UInt64, range: ClosedRange<UInt64>) throws -> UInt64 {
        guard let text else { return value }
        guard let number = UInt64(text), range.contains(number) else {
            throw ProtocolError(.badRequest, "'\(name)' must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    // MARK: Readiness

    /// `GET /ready`: 200 when every dependency the hub has answers (`checks` lists them, when it
    /// has any); 503 with an `unavailable` error naming the failing ones otherwise.
    private func ready() async -> Response {
        guard !self.hub.readiness.isEmpty else { return Self.json(["status": "ready"]) }
        let results = await self.hub.readiness.run()
        var checks: [String: Any] = [:]
        for result in results {
            checks[result.name] = result.failure.map { ["status": "failing", "error": $0] } ?? ["status": "ok"]
        }
        let failures = results.compactMap { result in result.failure.map { "\(result.name): \($0)" } }
        guard failures.isEmpty else {
            return Self.json(
                [
                    "status": "not_ready",
                    "checks": checks,
                    "error": ["code": ErrorCode.unavailable.rawValue, "message": failures.joined(separator: "; ")],
                ],
                status: .serviceUnavailable
            )
        }
        return Self.json(["status": "ready", "checks": checks])
    }

    // MARK: Introspection

    /// `GET /api/topics?after=T&limit=N`: topics and patterns with subscribers, by name, a page
    /// at a time; `next` is the `after` of the next page (null at the end).
    private func topics(_ request: Request) async throws -> Response {
        try self.authorize(request, publishing: false)
        let (after, limit) = try Self.page(request)
        let newer = try await self.hub.subscriberCounts().filter { entry in after.map { entry.key > $0 } ?? true }
        let page = newer.sorted { $0.key < $1.key }.prefix(limit)
        let topics = page.map { ["topic": $0.key, "subscribers": $0.value] as [String: Any] }
        let next: Any = newer.count > limit ? page.last?.key ?? NSNull() : NSNull()
        return Self.json(["topics": topics, "next": next])
    }

    /// `GET /api/connections?after=C&limit=N`: open connections, oldest first, a page at a time;
    /// `next` is the `after` of the next page (null at the end).
    private func connections(_ request: Request) async throws -> Response {
        try self.authorize(request, publishing: false)
        let (after, limit) = try Self.page(request)
        let cursor = try after.map { text in
            guard let id = UInt64(text) else { throw ProtocolError(.badRequest, "'after' must be the 'next' of a previous page") }
            return id
        }
        // One more than the page, to know whether another follows.
        let newer = try await self.hub.connections(after: cursor, limit: limit + 1)
        let page = newer.prefix(limit)
        let connections = page.map { info -> [String: Any] in
            [
                "client": info.client,
                "user": info.user ?? NSNull(),
                "transport": info.transport.rawValue,
                "remote_address": info.remoteAddress ?? NSNull(),
                "connected_at": info.connectedAt,
            ]
        }
        let next: Any = newer.count > limit ? page.last.map { String($0.id) } ?? NSNull() : NSNull()
        return Self.json(["connections": connections, "next": next])
    }

    /// The `after` and `limit` (1 to 10,000, default 10,000) of a listing, so no answer grows
    /// with the number of connections or topics.
    private static func page(_ request: Request) throws -> (after: String?, limit: Int) {
        let query = request.uri.queryParameters
        let limit = try Self.integer(query.get("limit"), name: "limit", default: 10_000, range: 1...10_000)
        return (query.get("after"), Int(limit))
    }

    private func stats(_ request: Request) async throws -> Response {
        try self.authorize(request, publishing: false)
        // Counters kept as connections come and go: no walk over the connections.
        let metrics = self.hub.metrics
        let (total, sse) = (metrics.connectionCount, metrics.sseConnectionCount)
        let byTransport = [TransportKind.webSocket.rawValue: total - sse, TransportKind.sse.rawValue: sse]
        let totals = metrics.totals()
        return Self.json([
            "connections": ["total": total, "by_transport": byTransport] as [String: Any],
            "subscriptions": metrics.subscriptionCount,
            "topics": try await self.hub.topicCount(),
            "messages": ["published": totals.published, "delivered": totals.delivered, "bytes_out": totals.bytesOut],
            "errors": totals.errors,
            "uptime_seconds": Int(Date().timeIntervalSince(self.startedAt)),
        ])
    }

    private func nodes(_ request: Request) async throws -> Response {
        try self.authorize(request, publishing: false)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let nodes = try await self.hub.nodes().sorted { $0.id < $1.id }
        return Self.json([
            "nodes": nodes.map { node in
                [
                    "id": node.id,
                    "address": node.address ?? NSNull(),
                    "connections": node.connections,
                    "uptime_seconds": max(0, (now - node.startedAt) / 1000),
                    "local": node.id == self.hub.node.id,
                ] as [String: Any]
            }
        ])
    }

    // MARK: Helpers

    /// A path segment, percent-decoded (user ids and topics may hold `@`, `:`, spaces, `/`, …).
    static func pathParameter(_ name: String, of context: some RequestContext) throws -> String {
        let raw = try context.parameters.require(name)
        guard let value = raw.removingPercentEncoding, !value.isEmpty else {
            throw ProtocolError(.badRequest, "invalid \(name) in path: \(ProtocolError.quoted(raw))")
        }
        return value
    }

    private func authorize(_ request: Request, publishing: Bool) throws {
        _ = try self.hub.authenticator.authorizeAPI(authorization: request.headers[.authorization], allowClientToken: publishing)
    }

    /// Authorizes an endpoint that client tokens may use too; what such a client may touch
    /// (nil for the API key: everything).
    private func clientAccess(_ request: Request) throws -> TopicAccess? {
        self.access(of: try self.caller(request))
    }

    /// Who calls an endpoint that client tokens may use too.
    func caller(_ request: Request) throws -> Authenticator.APIAccess {
        try self.hub.authenticator.authorizeAPI(authorization: request.headers[.authorization], allowClientToken: true)
    }

    func access(of caller: Authenticator.APIAccess) -> TopicAccess? {
        switch caller {
        case .admin: nil
        case .publisher(let identity): TopicAccess.make(for: identity, configuration: self.hub.configuration)
        }
    }

    func jsonBody(_ request: Request) async throws -> JSONObject {
        try await self.jsonBodyWithBytes(request).object
    }

    /// The body as an object, and its bytes (for what is stored as sent: definitions).
    func jsonBodyWithBytes(_ request: Request) async throws -> (object: JSONObject, bytes: ByteBuffer) {
        guard let body = try await self.optionalJSONBody(request) else {
            throw ProtocolError(.badRequest, "the request needs a JSON object body")
        }
        return body
    }

    /// The request's body, at most `max_message_size` bytes.
    private func body(_ request: Request) async throws -> ByteBuffer {
        let limit = self.hub.configuration.maxMessageSize
        do {
            return try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw ProtocolError(.tooLarge, "request body larger than \(limit) bytes")
        }
    }

    private func optionalJSONBody(_ request: Request) async throws -> (object: JSONObject, bytes: ByteBuffer)? {
        let buffer = try await self.body(request)
        guard buffer.readableBytes > 0 else { return nil }
        do {
            return (try JSONObject(parsing: buffer), buffer)
        } catch {
            throw ProtocolError(.badRequest, "invalid JSON body: \(error.description)")
        }
    }

    private static func receipt(_ receipt: Hub.Receipt) -> Response {
        Self.json(Self.receiptFields(receipt))
    }

    private static func receiptFields(_ receipt: Hub.Receipt) -> [String: Any] {
        var body: [String: Any] = ["message_id": receipt.messageID]
        if let offset = receipt.offset { body["offset"] = offset }
        if let epoch = receipt.epoch { body["epoch"] = epoch }
        if receipt.dropped { body["dropped"] = true }
        return body
    }

    static func json(_ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: JSONResponseBody.encode(object)))
    }
}

extension Authenticator.APIAccess {
    /// Whose idempotency keys the caller's publishes use (a token's user shares them with its
    /// WebSocket connections).
    fileprivate var publisher: String {
        switch self {
        case .admin: "api"
        case .publisher(let identity): "user:" + (identity.user ?? "")
        }
    }
}

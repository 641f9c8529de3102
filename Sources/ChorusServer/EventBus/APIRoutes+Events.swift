import ChorusCore
import Foundation
import Hummingbird
import NIOCore

/// `/api/events/*` (docs/http-api.md, "Event bus"): publishing, the log, consumers, schemas,
/// the dead-letter queue, replay and stats. API key only.
extension APIRoutes {
    /// The most events one `POST /api/events/publish` may carry (`{"events": […]}`).
    static let maxEventBatch = 100

    /// The bus, for an API-key caller; `not_found` when the hub runs none (`events: false`).
    private func bus(_ request: Request) throws -> EventBus {
        _ = try self.hub.authenticator.authorizeAPI(authorization: request.headers[.authorization], allowClientToken: false)
        guard let events = self.events else {
            throw ProtocolError(.notFound, "this hub does not run the event bus (events: false)")
        }
        return events
    }

    // MARK: Publishing

    func publishEvents(_ request: Request) async throws -> Response {
        let bus = try self.bus(request)
        let body = try await self.jsonBody(request)
        do {
            if let batch = body["events"] {
                guard let elements = batch.elements, !elements.isEmpty, elements.count <= Self.maxEventBatch,
                    body.count == 1
                else {
                    throw ProtocolError(.badRequest, "field 'events' must be the only field, an array of 1 to \(Self.maxEventBatch) events")
                }
                var events: [EventPublish] = []
                for element in elements {
                    guard let object = try? element.object() else { throw ProtocolError(.badRequest, "each of 'events' must be an object") }
                    events.append(try Self.eventPublish(object))
                }
                let receipts = try await bus.publish(events)
                return Self.json(["results": receipts.map(Self.receiptFields)])
            }
            return Self.json(Self.receiptFields(try await bus.publish(try Self.eventPublish(body))))
        } catch let violation as EventSchemaViolation {
            let error = violation.protocolError
            var fields: [String: Any] = ["code": error.code.rawValue, "message": error.message]
            fields["violations"] = violation.violations.map {
                ["instance_location": $0.instanceLocation, "keyword_location": $0.keywordLocation, "message": $0.message]
            }
            return Self.json(["error": fields], status: .unprocessableContent)
        }
    }

    private static func eventPublish(_ body: JSONObject) throws(ProtocolError) -> EventPublish {
        let known: Set = ["type", "data", "event_id", "correlation_id", "partition_key", "headers"]
        if let unknown = body.keys.first(where: { !known.contains($0) }) {
            throw ProtocolError(.badRequest, "unknown field '\(unknown)' (an event has type, data, event_id, correlation_id, partition_key, headers)")
        }
        var headers: [String: String] = [:]
        if let value = body["headers"] {
            guard let object = try? value.object() else { throw ProtocolError(.badRequest, "field 'headers' must be an object of strings") }
            for name in object.keys {
                guard let text = object[name]?.string else { throw ProtocolError(.badRequest, "field 'headers' must be an object of strings") }
                headers[name] = text
            }
        }
        return EventPublish(
            type: try body.requiredString("type"),
            data: try body.required("data").bytes,
            eventID: try body.optionalString("event_id", allowingNull: false),
            correlationID: try body.optionalString("correlation_id", allowingNull: false),
            partitionKey: try body.optionalString("partition_key", allowingNull: false),
            headers: headers)
    }

    private static func receiptFields(_ receipt: EventReceipt) -> [String: Any] {
        ["sequence": receipt.sequence, "event_id": receipt.eventID, "timestamp": receipt.timestamp, "duplicate": receipt.duplicate]
    }

    // MARK: The log

    func eventStats(_ request: Request) async throws -> Response {
        let bus = try self.bus(request)
        let store = try await bus.runningStore()
        let log = try await store.stats()
        let states = Dictionary(try await store.consumerStates().map { ($0.consumer, $0) }) { first, _ in first }
        let totals = bus.metrics.snapshot
        let sorted = totals.durations.sorted()
        let consumers: [[String: Any]] = bus.consumers().map { entry in
            let name = entry.consumer.name
            let state = states[name]
            let counts = totals.perConsumer[name] ?? [:]
            let cursor = state?.cursor ?? 0
            let pending = state?.pending ?? 0
            var fields: [String: Any] = ["name": name, "enabled": entry.consumer.enabled]
            fields["lag"] = Int(max(0, log.lastSequence - cursor)) + pending
            fields["cursor"] = cursor
            fields["pending"] = pending
            fields["dead_letters"] = state?.deadLettered ?? 0
            fields["delivered"] = counts[.delivered] ?? 0
            fields["filtered"] = counts[.filtered] ?? 0
            fields["failed"] = counts[.failed] ?? 0
            fields["retried"] = counts[.retried] ?? 0
            return fields
        }
        let average: Double = sorted.isEmpty ? 0 : Double(sorted.reduce(0, +)) / Double(sorted.count)
        let p99: Int64 = sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, sorted.count * 99 / 100)]
        let logFields: [String: Any] = [
            "events": log.count, "bytes": log.bytes, "last_sequence": log.lastSequence, "oldest_sequence": log.oldestSequence ?? NSNull(),
        ]
        var fields: [String: Any] = [:]
        fields["published"] = totals.published
        fields["delivered"] = totals.outcomes[.delivered] ?? 0
        fields["filtered"] = totals.outcomes[.filtered] ?? 0
        fields["failed"] = totals.outcomes[.failed] ?? 0
        fields["retried"] = totals.outcomes[.retried] ?? 0
        fields["dead_lettered"] = totals.outcomes[.deadLettered] ?? 0
        fields["dlq_size"] = states.values.reduce(0) { $0 + $1.deadLettered }
        fields["delivery_ms"] = ["average": average, "p99": p99, "samples": sorted.count] as [String: Any]
        fields["log"] = logFields
        fields["topics"] = log.types.count
        fields["consumers"] = consumers
        return Self.json(fields)
    }

    func eventTopics(_ request: Request) async throws -> Response {
        let log = try await self.bus(request).runningStore().stats()
        let topics: [[String: Any]] = log.types.keys.sorted().map { type in
            let stats = log.types[type]!
            return ["topic": type, "events": stats.count, "bytes": stats.bytes, "last_sequence": stats.newestSequence, "last_timestamp": stats.newestTimestamp]
        }
        return Self.json(["topics": topics])
    }

    /// The types a `topic=` parameter names: one type, or those a pattern matches.
    private static func types(_ topic: String, in log: EventLogStats) throws -> [String] {
        let pattern: TopicPattern
        do {
            pattern = try TopicPattern(topic)
        } catch {
            throw ProtocolError(.badRequest, "invalid topic \(ProtocolError.quoted(topic)): \(error.description)")
        }
        return log.types.keys.filter { type in (try? Topic(type)).map(pattern.matches) ?? false }.sorted()
    }

    func eventTopicStats(_ request: Request) async throws -> Response {
        let store = try await self.bus(request).runningStore()
        guard let topic = request.uri.queryParameters.get("topic") else { throw ProtocolError(.badRequest, "missing query parameter 'topic'") }
        let log = try await store.stats()
        let types = try Self.types(topic, in: log)
        let stats = types.compactMap { log.types[$0] }
        return Self.json([
            "topic": topic, "types": types,
            "events": stats.reduce(0) { $0 + $1.count }, "bytes": stats.reduce(0) { $0 + $1.bytes },
            "last_sequence": stats.map(\.newestSequence).max() ?? NSNull(),
            "last_timestamp": stats.map(\.newestTimestamp).max() ?? NSNull(),
        ])
    }

    /// `GET /api/events/log?topic=&limit=&before=` newest first (`next_before` pages back), or
    /// `?after=` oldest first (`next_after` pages on).
    func eventLog(_ request: Request) async throws -> Response {
        let store = try await self.bus(request).runningStore()
        let query = request.uri.queryParameters
        let limit = Int(try Self.integer(query.get("limit"), name: "limit", default: 100, range: 1...1000))
        var events = EventQuery(order: .newestFirst, limit: limit)
        if let topic = query.get("topic") { events.types = try Self.types(topic, in: try await store.stats()) }
        if let after = query.get("after") {
            guard query.get("before") == nil else { throw ProtocolError(.badRequest, "give 'after' or 'before', not both") }
            events.afterSequence = Int64(try Self.integer(after, name: "after", default: 0, range: 0...UInt64(Int64.max)))
            events.order = .oldestFirst
        }
        if let before = query.get("before") {
            events.beforeSequence = Int64(try Self.integer(before, name: "before", default: 0, range: 1...UInt64(Int64.max)))
        }
        let page = events.types == [] ? [] : try await store.events(events)
        var body = ByteBuffer()
        body.writeStaticString(#"{"events":["#)
        for (index, event) in page.enumerated() {
            if index > 0 { body.writeStaticString(",") }
            EventEnvelope.write(event, into: &body)
        }
        body.writeStaticString("]")
        let key = events.order == .newestFirst ? "next_before" : "next_after"
        body.writeString(",\"\(key)\":")
        if page.count == limit, let last = page.last { body.writeString(String(last.sequence)) } else { body.writeStaticString("null") }
        body.writeStaticString("}")
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }

    // MARK: Dead letters and replay

    func deadLetters(_ request: Request) async throws -> Response {
        let store = try await self.bus(request).runningStore()
        let query = request.uri.queryParameters
        let limit = Int(try Self.integer(query.get("limit"), name: "limit", default: 100, range: 1...1000))
        let after = try query.get("after").map { Int64(try Self.integer($0, name: "after", default: 0, range: 0...UInt64(Int64.max))) }
        let consumer = try query.get("consumer").map(Self.consumerName)
        let page = try await store.deadLetters(consumer: consumer, afterID: after, limit: limit)
        var body = ByteBuffer()
        body.writeStaticString(#"{"dead_letters":["#)
        for (index, letter) in page.enumerated() {
            if index > 0 { body.writeStaticString(",") }
            body.writeStaticString(#"{"id":"#)
            body.writeString(String(letter.id))
            body.writeStaticString(#","consumer":"#)
            body.writeJSONString(letter.consumer)
            body.writeStaticString(#","failed_at":"#)
            body.writeString(String(letter.failedAt))
            body.writeStaticString(#","event":"#)
            EventEnvelope.write(letter.event, into: &body)
            let attempts = letter.attempts.map { attempt -> [String: Any] in
                var fields: [String: Any] = ["number": attempt.number, "at": attempt.at, "error": attempt.error, "duration_ms": attempt.duration]
                if let status = attempt.statusCode { fields["status"] = status }
                return fields
            }
            body.writeStaticString(#","attempts":"#)
            JSONResponseBody.write(attempts, into: &body)
            body.writeStaticString("}")
        }
        body.writeStaticString(#"],"next_after":"#)
        if page.count == limit, let last = page.last { body.writeString(String(last.id)) } else { body.writeStaticString("null") }
        body.writeStaticString("}")
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }

    /// A consumer's name given by the caller; `bad_request` when it cannot be one.
    private static func consumerName(_ name: String) throws -> String {
        guard EventConsumer.isValidName(name) else {
            throw ProtocolError(.badRequest, "invalid consumer name \(ProtocolError.quoted(name)): 1 to \(EventConsumer.maxNameLength) letters, digits, '-', '_' or '.'")
        }
        return name
    }

    /// `{"ids": [..]}`, `{"consumer": name}` or `{"all": true}`: exactly one.
    private func deadLetterSelection(_ request: Request) async throws -> DeadLetterSelection {
        let body = try await self.jsonBody(request)
        guard body.count == 1 else { throw ProtocolError(.badRequest, "give exactly one of 'ids', 'consumer' or 'all': true") }
        if let ids = body["ids"] {
            guard let elements = ids.elements, !elements.isEmpty, elements.count <= 1000 else {
                throw ProtocolError(.badRequest, "field 'ids' must be an array of 1 to 1000 dead-letter ids")
            }
            var selected: [Int64] = []
            for element in elements {
                guard let id = element.int64, id >= 1 else { throw ProtocolError(.badRequest, "field 'ids' must be an array of 1 to 1000 dead-letter ids") }
                selected.append(id)
            }
            return .ids(selected)
        }
        if body["consumer"] != nil { return .consumer(try Self.consumerName(body.requiredString("consumer"))) }
        if let all = body["all"] {
            guard all.bool == true else { throw ProtocolError(.badRequest, "field 'all' must be true") }
            return .all
        }
        throw ProtocolError(.badRequest, "give exactly one of 'ids', 'consumer' or 'all': true")
    }

    func changeDeadLetters(_ request: Request, retry: Bool) async throws -> Response {
        let bus = try self.bus(request)
        let store = try await bus.runningStore()
        let selection = try await self.deadLetterSelection(request)
        if retry {
            let count = try await store.retryDeadLetters(selection, now: Self.now())
            bus.wakeAll(reload: true)
            return Self.json(["retried": count])
        }
        return Self.json(["cleared": try await store.clearDeadLetters(selection)])
    }

    /// `{from, to, types?, consumer?}`: times in milliseconds since the Unix epoch, `to` excluded.
    func replay(_ request: Request) async throws -> Response {
        let bus = try self.bus(request)
        let store = try await bus.runningStore()
        let body = try await self.jsonBody(request)
        // `to` at or before `from` is an empty range: nothing to replay.
        guard let from = try body.required("from").int64, let to = try body.required("to").int64, from >= 0, to >= 0 else {
            throw ProtocolError(.badRequest, "fields 'from' and 'to' must be times in milliseconds since the Unix epoch")
        }
        var range = EventQuery(since: from, until: to, limit: 500)
        if let types = body["types"] {
            guard let elements = types.elements, case let names = elements.compactMap(\.string), names.count == elements.count,
                names.allSatisfy({ (try? Topic($0)) != nil })
            else {
                throw ProtocolError(.badRequest, "field 'types' must be an array of event types (topic names, no wildcards)")
            }
            range.types = names
        }
        let name = try body.optionalString("consumer", allowingNull: false)
        let consumers = bus.consumers().map(\.consumer).filter { name == nil || $0.name == name }
        if let name, consumers.isEmpty { throw ProtocolError(.notFound, "no consumer named '\(name)'") }
        var replayed: [String: Int] = [:]
        for consumer in consumers {
            replayed[consumer.name] = try await store.replay(
                consumer: consumer.name, range: range, partitionCount: consumer.partitions, now: Self.now()
            ) { consumer.matches($0.event) }
        }
        bus.wakeAll(reload: true)
        return Self.json(["replayed": replayed])
    }

    // MARK: Consumers and schemas

    func listConsumers(_ request: Request) async throws -> Response {
        let bus = try self.bus(request)
        return Self.json(["consumers": bus.consumers().map { Self.consumerFields($0.consumer, configured: $0.configured) }])
    }

    private static func consumerFields(_ consumer: EventConsumer, configured: Bool) -> [String: Any] {
        var fields = consumer.definition
        fields["source"] = configured ? "configuration" : "api"
        return fields
    }

    func consumer(_ request: Request, name: String) async throws -> Response {
        let bus = try self.bus(request)
        guard let entry = bus.consumers().first(where: { $0.consumer.name == name }) else { throw ProtocolError(.notFound, "no consumer named '\(name)'") }
        return Self.json(Self.consumerFields(entry.consumer, configured: entry.configured))
    }

    func putConsumer(_ request: Request, name: String) async throws -> Response {
        let bus = try self.bus(request)
        let body = try await self.jsonBodyWithBytes(request).bytes
        // A module the hub does not have is a missing resource (404), like an unknown consumer;
        // one that is there but cannot serve is bad input (400, from the parse below).
        if case .object(let object)? = try? JSONValue(parsing: body), case .string(let path)? = object["transform"],
            !FileManager.default.fileExists(atPath: path)
        {
            throw ProtocolError(.notFound, "consumer '\(name)': transform: \(path): no such file on the hub")
        }
        let consumer: EventConsumer
        do {
            consumer = try EventConsumer(parsing: body, name: name)
        } catch {
            throw ProtocolError(.badRequest, error.message)
        }
        try await bus.save(consumer)
        return Self.json(Self.consumerFields(consumer, configured: false))
    }

    func deleteConsumer(_ request: Request, name: String) async throws -> Response {
        guard try await self.bus(request).removeConsumer(name) else { throw ProtocolError(.notFound, "no consumer named '\(name)'") }
        return Self.json(["name": name, "deleted": true])
    }

    func listSchemas(_ request: Request) async throws -> Response {
        let schemas = try self.bus(request).schemas().map { Self.schemaFields($0.type, source: $0.source, configured: $0.configured) }
        return Self.json(["schemas": schemas])
    }

    private static func schemaFields(_ type: String, source: String, configured: Bool) -> [String: Any] {
        let schema = (try? JSONSerialization.jsonObject(with: Data(source.utf8), options: [.fragmentsAllowed])) ?? NSNull()
        return ["type": type, "schema": schema, "source": configured ? "configuration" : "api"]
    }

    func schema(_ request: Request, type: String) async throws -> Response {
        guard let entry = try self.bus(request).schemas().first(where: { $0.type == type }) else {
            throw ProtocolError(.notFound, "no schema for '\(type)'")
        }
        return Self.json(Self.schemaFields(entry.type, source: entry.source, configured: entry.configured))
    }

    /// The body is the schema itself.
    func putSchema(_ request: Request, type: String) async throws -> Response {
        let bus = try self.bus(request)
        let source = String(buffer: try await self.jsonBodyWithBytes(request).bytes)
        try await bus.saveSchema(source, type: type)
        return Self.json(Self.schemaFields(type, source: source, configured: false))
    }

    func deleteSchema(_ request: Request, type: String) async throws -> Response {
        guard try await self.bus(request).removeSchema(type) else { throw ProtocolError(.notFound, "no schema for '\(type)'") }
        return Self.json(["type": type, "deleted": true])
    }

    private static func now() -> Int64 {
        Int64(Date().timeIntervalSince1970 * 1000)
    }
}

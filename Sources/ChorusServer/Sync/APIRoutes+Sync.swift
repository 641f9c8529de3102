import ChorusCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `/api/collections/{c}/records[/{id}]`: sync collections over HTTP, for backends (the API
/// key) and clients (a token: reading as subscribing, writing as publishing). Writes go through
/// the same store and rules as `sync_mutate`, so subscribers get them as `sync_change`.
/// `If-Match` carries a record's version (its `ETag`); a stale one is 412 with the current record.
extension APIRoutes {
    /// `GET /api/collections/{c}/records`: every record and the collection's version.
    func syncRecords(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (sync, collection, _) = try self.syncCollection(request, context, writing: false)
        let snapshot = try await sync.store.snapshot(of: collection.name)
        var body = ByteBuffer()
        body.writeStaticString(#"{"collection":"#)
        body.writeJSONString(collection.name)
        body.writeStaticString(#","version":"#)
        body.writeString(String(snapshot.version))
        body.writeStaticString(#","records":"#)
        SyncRecord.writeList(snapshot.records, into: &body)
        body.writeStaticString("}")
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
    }

    /// `POST /api/collections/{c}/records`: an insert (`id` optional: the hub assigns one).
    func syncInsert(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (sync, collection, by) = try self.syncCollection(request, context, writing: true)
        let body = try await self.jsonBody(request)
        let mutation = SyncMutation(
            op: .insert, recordID: try body.syncID("id"), data: try Self.recordData(body), baseVersion: nil,
            mutationID: try Self.mutationID(body, request))
        return try await self.syncWrite(mutation, in: collection, sync: sync, by: by, status: .created)
    }

    /// `GET /api/collections/{c}/records/{id}`: one record, its version as `ETag`.
    func syncRecord(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (sync, collection, _) = try self.syncCollection(request, context, writing: false)
        let id = try Self.pathParameter("id", of: context)
        guard let record = try await sync.store.record(id, in: collection.name) else {
            throw ProtocolError(.notFound, "no record \(ProtocolError.quoted(id)) in '\(collection.name)'")
        }
        return Self.recordResponse(record)
    }

    /// `PUT /api/collections/{c}/records/{id}`: replaces the record's data; creates a missing
    /// one when no `If-Match` is given.
    func syncPut(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (sync, collection, by) = try self.syncCollection(request, context, writing: true)
        let id = try Self.pathParameter("id", of: context)
        let body = try await self.jsonBody(request)
        let base = try Self.ifMatch(request)
        var mutation = SyncMutation(op: .update, recordID: id, data: try Self.recordData(body), baseVersion: base, mutationID: try Self.mutationID(body, request))
        do {
            return try await self.syncWrite(mutation, in: collection, sync: sync, by: by, status: .ok)
        } catch let error as ProtocolError where error.code == .notFound && base == nil {
            // PUT without If-Match creates a missing record.
            mutation.op = .insert
            return try await self.syncWrite(mutation, in: collection, sync: sync, by: by, status: .created)
        }
    }

    /// `PATCH /api/collections/{c}/records/{id}`: `data`'s members over the record's.
    func syncPatch(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (sync, collection, by) = try self.syncCollection(request, context, writing: true)
        let id = try Self.pathParameter("id", of: context)
        let body = try await self.jsonBody(request)
        let patch = try body.required("data")
        guard let fields = try? patch.object(), patch.kind == .object else { throw ProtocolError(.badRequest, "field 'data' must be an object of the fields to change") }
        let base = try Self.ifMatch(request)
        let mutationID = try Self.mutationID(body, request)
        // Merged onto the record as read; the write names that version, so a change in
        // between is a conflict: retried on a fresh read without If-Match, 412 with it.
        for _ in 0..<3 {
            guard let current = try await sync.store.record(id, in: collection.name) else {
                throw ProtocolError(.notFound, "no record \(ProtocolError.quoted(id)) in '\(collection.name)'")
            }
            let mutation = SyncMutation(op: .update, recordID: id, data: try Self.merge(fields, onto: current.data), baseVersion: base ?? current.version, mutationID: mutationID)
            let response = try await self.syncWrite(mutation, in: collection, sync: sync, by: by, status: .ok)
            if base != nil || response.status != .preconditionFailed { return response }
        }
        throw ProtocolError(.unavailable, "record \(ProtocolError.quoted(id)) kept changing; try again")
    }

    /// `DELETE /api/collections/{c}/records/{id}`.
    func syncDelete(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (sync, collection, by) = try self.syncCollection(request, context, writing: true)
        let id = try Self.pathParameter("id", of: context)
        let mutation = SyncMutation(op: .delete, recordID: id, data: nil, baseVersion: try Self.ifMatch(request), mutationID: try Self.mutationID(nil, request))
        return try await self.syncWrite(mutation, in: collection, sync: sync, by: by, status: .ok)
    }

    /// The hub's sync and the collection in the path, once the caller may read it (or write it),
    /// and who writes: a client token's user (nil for the API key: the server side).
    private func syncCollection(_ request: Request, _ context: some RequestContext, writing: Bool) throws -> (SyncService, Topic, String?) {
        let caller = try self.caller(request)
        let collection = try Self.topic(try Self.pathParameter("collection", of: context))
        guard let sync = self.hub.sync, self.hub.configuration.namespace(of: collection)?.sync == true else {
            throw ProtocolError(.notFound, "'\(collection.name)' is not a sync collection: namespace '\(collection.namespace)' does not have \"sync\": true")
        }
        let access = self.access(of: caller)
        if writing {
            try access.authorizePublish(to: collection)
            try self.admitPublishes(1, by: caller)
        } else if !access.mayRead(collection) {
            throw ProtocolError(.forbidden, "not allowed to read '\(collection.name)'")
        }
        guard case .publisher(let identity) = caller else { return (sync, collection, nil) }
        return (sync, collection, identity.user)
    }

    /// Applies a mutation: the ack and the record (`ETag` its version); on a conflict 412 (a
    /// stale If-Match) or 409 (an insert of an existing id), with the current record.
    private func syncWrite(_ mutation: SyncMutation, in collection: Topic, sync: SyncService, by: String?, status: HTTPResponse.Status) async throws -> Response {
        let options = try SyncService.options(of: collection, in: self.hub.configuration)
        let ack: SyncAck
        do {
            ack = try await sync.store.mutate(mutation, in: collection.name, limits: options.syncLimits, by: by)
        } catch let refusal as SyncRefusal {
            guard case .conflict(let current) = refusal else { throw refusal.protocolError }
            self.hub.metrics.error(.conflict)
            // `{"error":{"code":"conflict","message":…},"current":…}`
            var body = ByteBuffer()
            APIErrorBody.write(refusal.protocolError, into: &body)
            body.moveWriterIndex(to: body.writerIndex - 1)
            body.writeStaticString(#","current":"#)
            if let current { current.write(into: &body) } else { body.writeStaticString("null") }
            body.writeStaticString("}")
            return Response(
                status: mutation.baseVersion == nil || mutation.op == .insert ? .conflict : .preconditionFailed,
                headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
        }
        var body = ByteBuffer()
        body.writeStaticString(#"{"record_id":"#)
        body.writeJSONString(ack.recordID)
        body.writeStaticString(#","version":"#)
        body.writeString(String(ack.version))
        body.writeStaticString(#","mutation_id":"#)
        body.writeJSONString(ack.mutationID)
        body.writeStaticString(#","record":"#)
        if let record = ack.record { record.write(into: &body) } else { body.writeStaticString("null") }
        body.writeStaticString("}")
        return Response(status: status, headers: [.contentType: "application/json", .eTag: "\"\(ack.version)\""], body: .init(byteBuffer: body))
    }

    private static func recordResponse(_ record: SyncRecord) -> Response {
        var body = ByteBuffer()
        record.write(into: &body)
        return Response(status: .ok, headers: [.contentType: "application/json", .eTag: "\"\(record.version)\""], body: .init(byteBuffer: body))
    }

    /// `If-Match: "7"` (or `7`, `W/"7"`): the version the write expects; nil when absent.
    private static func ifMatch(_ request: Request) throws -> UInt64? {
        guard var text = request.headers[.ifMatch]?.trimmingCharacters(in: .whitespaces) else { return nil }
        if text.hasPrefix("W/") { text.removeFirst(2) }
        if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") { text = String(text.dropFirst().dropLast()) }
        guard let version = UInt64(text) else {
            throw ProtocolError(.badRequest, "If-Match must be a record version (its ETag), such as \"3\"")
        }
        return version
    }

    /// The body's `mutation_id`, else the `Idempotency-Key` header, else a new one (no retry).
    private static func mutationID(_ body: JSONObject?, _ request: Request) throws -> String {
        if let id = try body?.syncID("mutation_id") { return id }
        if let key = request.headers[HTTPField.Name("Idempotency-Key")!] {
            guard !key.isEmpty, key.utf8.count <= SyncMutation.maxIDLength else {
                throw ProtocolError(.badRequest, "Idempotency-Key must be 1 to \(SyncMutation.maxIDLength) bytes long")
            }
            return key
        }
        return UUID().uuidString.lowercased()
    }

    private static func recordData(_ body: JSONObject) throws -> ByteBuffer {
        let data = try body.required("data")
        guard !data.isNull else { throw ProtocolError(.badRequest, "field 'data' must not be null") }
        return ByteBuffer(bytes: data.bytes.readableBytesView)
    }

    /// `patch`'s members over `data`'s (a shallow JSON merge patch: null removes a member).
    private static func merge(_ patch: JSONObject, onto data: ByteBuffer) throws -> ByteBuffer {
        guard let current = try? JSONObject(parsing: data) else {
            throw ProtocolError(.badRequest, "PATCH merges into an object; this record's data is not one (PUT it instead)")
        }
        var merged = ByteBuffer()
        merged.writeStaticString("{")
        var first = true
        func member(_ key: String, _ value: RawJSON) {
            if !first { merged.writeStaticString(",") }
            first = false
            merged.writeJSONString(key)
            merged.writeStaticString(":")
            merged.writeImmutableBuffer(value.bytes)
        }
        let patched = Set(patch.keys)
        for key in current.keys where !patched.contains(key) {
            if let value = current[key] { member(key, value) }
        }
        for key in patch.keys {
            if let value = patch[key], !value.isNull { member(key, value) }
        }
        merged.writeStaticString("}")
        return merged
    }
}

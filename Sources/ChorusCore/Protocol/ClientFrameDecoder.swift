package import NIOCore

/// Turns the JSON text of a client frame into a ``ClientFrame``.
///
/// The `id` is returned separately so that a frame rejected for its other fields can still be
/// answered with an `error` that echoes it.
package struct ClientFrameDecoder: Sendable {
    /// How deeply JSON may nest; hostile input nests thousands deep.
    package var maxDepth: Int

    /// A decoder that refuses JSON nested deeper than `maxDepth`.
    package init(maxDepth: Int = 64) {
        self.maxDepth = maxDepth
    }

    /// A decoded frame: its `id`, and the frame or why it was refused.
    package struct Decoded: Sendable {
        /// The frame's `id`, when it had a valid one, for the reply.
        package var id: RawJSON?
        /// The frame, or the error to answer it with.
        package var result: Result<ClientFrame, ProtocolError>
    }

    /// Decodes one text message of a client.
    package func decode(_ text: ByteBuffer) -> Decoded {
        self.decode(text) { object throws(ProtocolError) in try Self.frame(from: object) }
    }

    /// Decodes one binary message of a client (``BinaryFrame``): a `publish` whose data is the
    /// bytes after the header.
    package func decodeBinary(_ frame: ByteBuffer) -> Decoded {
        let parts: (header: ByteBuffer, data: ByteBuffer)
        do {
            parts = try BinaryFrame.split(frame)
        } catch {
            return Decoded(id: nil, result: .failure(error))
        }
        return self.decode(parts.header) { object throws(ProtocolError) in
            let type = try object.requiredString("type")
            guard type == "publish" || type == "message" else {
                throw ProtocolError(.badRequest, "a binary frame carries 'publish' only, not '\(type)'")
            }
            guard object["data"] == nil else {
                throw ProtocolError(.badRequest, "a binary frame's header has no 'data': the bytes after it are the data")
            }
            return .publish(try Self.publish(from: object, data: RawJSON(kind: .null, bytes: ByteBuffer(string: "null")), binaryData: parts.data))
        }
    }

    /// The JSON object of `text`, its `id`, and the frame `makeFrame` makes of it.
    private func decode(_ text: ByteBuffer, makeFrame: (JSONObject) throws(ProtocolError) -> ClientFrame) -> Decoded {
        let object: JSONObject
        do {
            object = try JSONObject(parsing: text, maxDepth: self.maxDepth)
        } catch {
            return Decoded(id: nil, result: .failure(ProtocolError(.badRequest, error.description)))
        }
        let id = object["id"]
        if let id, id.kind != .string, id.kind != .number {
            return Decoded(id: nil, result: .failure(ProtocolError(.badRequest, "field 'id' must be a number or a string")))
        }
        do {
            return Decoded(id: id, result: .success(try makeFrame(object)))
        } catch {
            return Decoded(id: id, result: .failure(error))
        }
    }

    private static func publish(from object: JSONObject, data: RawJSON, binaryData: ByteBuffer?) throws(ProtocolError) -> PublishFrame {
        var frame = PublishFrame(
            topic: try object.topic("topic"),
            event: try object.optionalString("event"),
            data: data,
            idempotencyKey: try object.idempotencyKey()
        )
        frame.binaryData = binaryData
        return frame
    }

    static func frame(from object: JSONObject) throws(ProtocolError) -> ClientFrame {
        let type = try object.requiredString("type")
        switch type {
        case "auth":
            return .auth(token: try object.requiredString("token"))
        case "subscribe":
            let pattern = try object.pattern("topic")
            return .subscribe(pattern, since: try object.recoveryPosition("since"))
        case "unsubscribe":
            return .unsubscribe(try object.pattern("topic"))
        case "publish", "message":
            return .publish(try Self.publish(from: object, data: try object.required("data"), binaryData: nil))
        case "ping":
            return .ping(timestamp: object["timestamp"])
        case "presence":
            return .presence(try object.topic("topic"), page: try object.presencePage(allowingAfter: true))
        case "presence_join":
            let meta = object["meta"].flatMap { $0.isNull ? nil : $0 }
            if let meta { try Self.checkMeta(meta) }
            return .presenceJoin(try object.topic("topic"), meta: meta, limit: try object.presencePage(allowingAfter: false).limit)
        case "presence_update":
            let meta = try object.required("meta")
            try Self.checkMeta(meta)
            return .presenceUpdate(try object.topic("topic"), meta: meta)
        case "presence_leave":
            return .presenceLeave(try object.topic("topic"))
        case "presence_stats":
            return .presenceStats(try object.topic("topic"))
        case "signal":
            let client = try object.requiredString("to")
            guard !client.isEmpty else { throw ProtocolError(.badRequest, "field 'to' must name a client") }
            return .signal(to: client, data: try object.required("data"))
        case "direct":
            let user = try object.requiredString("to")
            guard !user.isEmpty else { throw ProtocolError(.badRequest, "field 'to' must name a user") }
            return .direct(
                to: user,
                event: try object.optionalString("event") ?? "message",
                data: try object.required("data")
            )
        case "sync_subscribe":
            return .syncSubscribe(try object.topic("collection"), since: try object.version("since"))
        case "sync_unsubscribe":
            return .syncUnsubscribe(try object.topic("collection"))
        case "sync_mutate":
            return .syncMutate(try object.topic("collection"), try object.syncMutation())
        case "event_publish":
            return .eventPublish(try EventPublishFrame(object))
        default:
            return .custom(type: type, fields: object)
        }
    }

    private static func checkMeta(_ meta: RawJSON) throws(ProtocolError) {
        guard meta.kind == .object else { throw ProtocolError(.badRequest, "field 'meta' must be an object") }
    }
}

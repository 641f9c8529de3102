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
            return Decoded(id: id, result: .success(try Self.frame(from: object)))
        } catch {
            return Decoded(id: id, result: .failure(error))
        }
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
            return .publish(
                PublishFrame(
                    topic: try object.topic("topic"),
                    event: try object.optionalString("event"),
                    data: try object.required("data"),
                    idempotencyKey: try object.idempotencyKey()
                )
            )
        case "ping":
            return .ping(timestamp: object["timestamp"])
        case "presence":
            return .presence(try object.topic("topic"))
        case "presence_join":
            let meta = object["meta"].flatMap { $0.isNull ? nil : $0 }
            if let meta { try Self.checkMeta(meta) }
            return .presenceJoin(try object.topic("topic"), meta: meta)
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
        default:
            return .custom(type: type, fields: object)
        }
    }

    private static func checkMeta(_ meta: RawJSON) throws(ProtocolError) {
        guard meta.kind == .object else { throw ProtocolError(.badRequest, "field 'meta' must be an object") }
    }
}

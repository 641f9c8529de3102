public import ChorusCore
public import NIOCore

/// A frame from the hub, decoded: a `message`, or any other frame as ChorusCore's
/// ``ServerFrame`` (the type the hub encodes them from), with the request `id` it answers.
public enum InboundFrame: Sendable {
    /// A `message`.
    case message(ChorusMessage)
    /// Any other frame, and the `id` of the request it answers (nil: a notice, not a reply).
    /// A frame of a type the client does not know is ``ServerFrame/custom(type:fields:)`` with
    /// the whole frame as `fields`.
    case reply(ServerFrame, id: Int64?)

    /// Decodes one text frame; a frame that is not a JSON object with a known shape is refused.
    public static func decode(_ text: ByteBuffer) throws(ProtocolError) -> InboundFrame {
        let object: JSONObject
        do {
            object = try JSONObject(parsing: text)
        } catch {
            throw ProtocolError(.badRequest, "not a JSON object: \(error.description)")
        }
        let id = object["id"]?.int64
        let type = try object.requiredString("type")
        switch type {
        case "message":
            return .message(try Self.message(object, frame: text))
        case "connected":
            return .reply(
                .connected(client: try object.requiredString("client"), user: try object.optionalString("user"), expiresAt: object["expires_at"]?.int64),
                id: id
            )
        case "auth_success":
            return .reply(
                .authSuccess(client: try object.requiredString("client"), user: try object.optionalString("user"), expiresAt: object["expires_at"]?.int64),
                id: id
            )
        case "subscribed":
            return .reply(
                .subscribed(
                    topic: try object.requiredString("topic"),
                    offset: try Self.offset(object["offset"]),
                    epoch: try object.optionalString("epoch"),
                    recovered: object["recovered"]?.bool
                ),
                id: id
            )
        case "unsubscribed":
            return .reply(.unsubscribed(topic: try object.requiredString("topic")), id: id)
        case "ack":
            return .reply(
                .ack(messageID: try object.optionalString("message_id"), offset: try Self.offset(object["offset"]), epoch: try object.optionalString("epoch")),
                id: id
            )
        case "pong":
            return .reply(.pong(timestamp: object["timestamp"]), id: id)
        case "error":
            let reason = try object.optionalString("reason").map(ReasonCode.init(rawValue:))
            let error = ProtocolError(
                ErrorCode(rawValue: try object.requiredString("code")),
                try object.optionalString("message") ?? "",
                reason: reason
            )
            return .reply(.error(error), id: id)
        case "disconnect":
            guard let code = object["code"]?.int64, let closeCode = UInt16(exactly: code) else {
                throw ProtocolError(.badRequest, "field 'code' must be a close code")
            }
            let reason = try object.requiredString("reason")
            // v1 has no `message`: its `reason` is the text, and there is no reason code.
            let message = try object.optionalString("message")
            return .reply(
                .disconnect(
                    code: CloseCode(rawValue: closeCode),
                    reason: ReasonCode(rawValue: message == nil ? "" : reason),
                    message: message ?? reason,
                    reconnect: object["reconnect"]?.bool ?? false
                ),
                id: id
            )
        default:
            return .reply(.custom(type: type, fields: text), id: id)
        }
    }

    private static func message(_ object: JSONObject, frame: ByteBuffer) throws(ProtocolError) -> ChorusMessage {
        var from: MessageSender?
        if let sender = object["from"], !sender.isNull {
            guard let fields = try? sender.object() else { throw ProtocolError(.badRequest, "field 'from' must be an object") }
            from = MessageSender(user: try fields.optionalString("user"), client: try fields.optionalString("client") ?? "")
        }
        guard let timestamp = object["ts"]?.int64 else { throw ProtocolError(.badRequest, "field 'ts' must be an integer") }
        let envelope = MessageEnvelope(
            topic: try object.requiredString("topic"),
            event: try object.optionalString("event") ?? "message",
            data: try object.required("data").bytes,
            messageID: try object.optionalString("message_id") ?? "",
            offset: try Self.offset(object["offset"]),
            epoch: try object.optionalString("epoch"),
            timestamp: timestamp,
            from: from
        )
        return ChorusMessage(envelope: envelope, sub: try object.optionalString("sub"), frame: frame)
    }

    private static func offset(_ value: RawJSON?) throws(ProtocolError) -> UInt64? {
        guard let value, !value.isNull else { return nil }
        guard let number = value.int64, let offset = UInt64(exactly: number) else {
            throw ProtocolError(.badRequest, "field 'offset' must be a non-negative integer")
        }
        return offset
    }
}

extension ServerFrame {
    /// A `disconnect` frame's fields for the close policy; nil for other frames.
    var disconnectNotice: DisconnectNotice? {
        guard case .disconnect(let code, let reason, let message, let reconnect) = self else { return nil }
        return DisconnectNotice(code: code.rawValue, reason: reason.rawValue.isEmpty ? nil : reason, message: message, reconnect: reconnect)
    }
}

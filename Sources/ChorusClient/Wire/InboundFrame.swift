public import ChorusCore
import Foundation
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
    /// A live `sync_change` of a collection the client follows.
    case syncChange(SyncChange)

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
        case "ack" where object["record_id"] != nil:
            // A sync mutation's ack.
            guard let version = object["version"]?.int64, version >= 0 else { throw ProtocolError(.badRequest, "field 'version' must be a version") }
            let ack = SyncAck(recordID: try object.requiredString("record_id"), version: UInt64(version), mutationID: try object.requiredString("mutation_id"), record: nil)
            return .reply(.syncAck(ack), id: id)
        case "ack" where object["sequence"] != nil:
            // An event_publish's receipt: the whole frame, read by ``EventReceipt/init(_:)``.
            return .reply(.custom(type: type, fields: text), id: id)
        case "ack":
            return .reply(
                .ack(
                    messageID: try object.optionalString("message_id"), offset: try Self.offset(object["offset"]), epoch: try object.optionalString("epoch"),
                    dropped: object["dropped"]?.bool ?? false),
                id: id
            )
        case "pong":
            return .reply(.pong(timestamp: object["timestamp"]), id: id)
        case "error" where object["current"] != nil:
            // A sync conflict, with the record as it stands.
            let current = try object.required("current")
            let record: SyncRecord?
            do {
                record = current.isNull ? nil : try SyncRecord(try current.object())
            } catch let error as ProtocolError {
                throw error
            } catch {
                throw ProtocolError(.badRequest, "field 'current' must be a record or null")
            }
            return .reply(.syncConflict(message: try object.optionalString("message") ?? "", current: record), id: id)
        case "error" where object["violations"] != nil:
            // An `invalid_event` with the schema's violations: the whole frame, read by
            // ``ChorusClientError/init(reply:)``.
            return .reply(.custom(type: type, fields: text), id: id)
        case "presence_state", "presence_diff", "presence_stats", "signal":
            return .reply(try Self.presenceFrame(type, object), id: id)
        case "sync_snapshot", "sync_changes":
            return .reply(try Self.syncFrame(type, object), id: id)
        case "sync_change":
            return .syncChange(try Self.syncChange(object, collection: try object.requiredString("collection")))
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

    /// Decodes one binary frame (``BinaryFrame``): a binary `message`, its data the bytes after
    /// the header.
    public static func decodeBinary(_ frame: ByteBuffer) throws(ProtocolError) -> InboundFrame {
        let parts = try BinaryFrame.split(frame)
        let object: JSONObject
        do {
            object = try JSONObject(parsing: parts.header)
        } catch {
            throw ProtocolError(.badRequest, "binary frame header is not a JSON object: \(error.description)")
        }
        guard try object.requiredString("type") == "message" else {
            throw ProtocolError(.badRequest, "a binary frame from the hub carries 'message' only")
        }
        return .message(try Self.message(object, frame: parts.header, binaryData: parts.data))
    }

    /// The message of `object`; `binaryData`: the bytes of a binary frame.
    private static func message(_ object: JSONObject, frame: ByteBuffer, binaryData: ByteBuffer? = nil) throws(ProtocolError) -> ChorusMessage {
        let from = try Self.sender(object["from"])
        guard let timestamp = object["ts"]?.int64 else { throw ProtocolError(.badRequest, "field 'ts' must be an integer") }
        let data: ByteBuffer
        if let binaryData { data = binaryData } else { data = try Self.data(object) }
        let envelope = MessageEnvelope(
            topic: try object.requiredString("topic"),
            event: try object.optionalString("event") ?? "message",
            data: data,
            messageID: try object.optionalString("message_id") ?? "",
            offset: try Self.offset(object["offset"]),
            epoch: try object.optionalString("epoch"),
            timestamp: timestamp,
            from: from,
            binary: binaryData != nil || object["encoding"]?.string == "base64"
        )
        return ChorusMessage(envelope: envelope, sub: try object.optionalString("sub"), frame: frame)
    }

    /// `data`: its JSON, or the bytes of a binary message sent as JSON (`encoding: "base64"`).
    private static func data(_ object: JSONObject) throws(ProtocolError) -> ByteBuffer {
        let data = try object.required("data")
        guard object["encoding"]?.string == "base64" else { return data.bytes }
        guard let text = data.string, let bytes = Data(base64Encoded: text) else {
            throw ProtocolError(.badRequest, "field 'data' must be base64 with encoding 'base64'")
        }
        return ByteBuffer(bytes: bytes)
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

public import ChorusCore
public import NIOCore

/// The client side of ``ClientFrame``: the hub decodes these frames with `ClientFrameDecoder`,
/// and the Swift client writes them here, from the same type.
extension ClientFrame {
    /// Writes the frame's JSON with request `id` (nil: none).
    public func write(into buffer: inout ByteBuffer, id: Int? = nil) {
        buffer.writeStaticString(#"{"type":"#)
        switch self {
        case .auth(let token):
            buffer.writeStaticString(#""auth""#)
            Self.writeID(id, into: &buffer)
            Self.writeString("token", token, into: &buffer)
        case .subscribe(let pattern, let since):
            buffer.writeStaticString(#""subscribe""#)
            Self.writeID(id, into: &buffer)
            Self.writeString("topic", pattern.text, into: &buffer)
            switch since {
            case .offset(let offset, let epoch):
                buffer.writeString(#","since":{"offset":\#(offset),"epoch":"#)
                buffer.writeJSONString(epoch)
                buffer.writeStaticString("}")
            case .timestamp(let milliseconds):
                buffer.writeString(#","since":{"ts":\#(milliseconds)}"#)
            case nil:
                break
            }
        case .unsubscribe(let pattern):
            buffer.writeStaticString(#""unsubscribe""#)
            Self.writeID(id, into: &buffer)
            Self.writeString("topic", pattern.text, into: &buffer)
        case .publish(let publish):
            buffer.writeStaticString(#""publish""#)
            Self.writeID(id, into: &buffer)
            Self.writeString("topic", publish.topic.name, into: &buffer)
            if let event = publish.event { Self.writeString("event", event, into: &buffer) }
            Self.writeValue("data", publish.data, into: &buffer)
            if let key = publish.idempotencyKey { Self.writeString("idempotency_key", key, into: &buffer) }
        case .ping(let timestamp):
            buffer.writeStaticString(#""ping""#)
            Self.writeID(id, into: &buffer)
            if let timestamp { Self.writeValue("timestamp", timestamp, into: &buffer) }
        case .presence(let topic), .presenceLeave(let topic), .presenceStats(let topic):
            buffer.writeJSONString(self.typeName)
            Self.writeID(id, into: &buffer)
            Self.writeString("topic", topic.name, into: &buffer)
        case .presenceJoin(let topic, let meta):
            buffer.writeStaticString(#""presence_join""#)
            Self.writeID(id, into: &buffer)
            Self.writeString("topic", topic.name, into: &buffer)
            if let meta { Self.writeValue("meta", meta, into: &buffer) }
        case .presenceUpdate(let topic, let meta):
            buffer.writeStaticString(#""presence_update""#)
            Self.writeID(id, into: &buffer)
            Self.writeString("topic", topic.name, into: &buffer)
            Self.writeValue("meta", meta, into: &buffer)
        case .signal(let client, let data):
            buffer.writeStaticString(#""signal""#)
            Self.writeID(id, into: &buffer)
            Self.writeString("to", client, into: &buffer)
            Self.writeValue("data", data, into: &buffer)
        case .direct(let user, let event, let data):
            buffer.writeStaticString(#""direct""#)
            Self.writeID(id, into: &buffer)
            Self.writeString("to", user, into: &buffer)
            Self.writeString("event", event, into: &buffer)
            Self.writeValue("data", data, into: &buffer)
        case .custom(let type, let fields):
            buffer.writeJSONString(type)
            Self.writeID(id, into: &buffer)
            var written: Set<String> = ["type", "id"]
            for key in fields.keys where written.insert(key).inserted {
                // The subscript gives the last of duplicated keys, as the hub reads them.
                if let value = fields[key] { Self.writeValue(key, value, into: &buffer) }
            }
        }
        buffer.writeStaticString("}")
    }

    /// The `type` of the presence frames that carry a topic only.
    private var typeName: String {
        switch self {
        case .presenceLeave: "presence_leave"
        case .presenceStats: "presence_stats"
        default: "presence"
        }
    }

    private static func writeID(_ id: Int?, into buffer: inout ByteBuffer) {
        guard let id else { return }
        buffer.writeString(#","id":\#(id)"#)
    }

    private static func writeString(_ key: String, _ value: String, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(",")
        buffer.writeJSONString(key)
        buffer.writeStaticString(":")
        buffer.writeJSONString(value)
    }

    private static func writeValue(_ key: String, _ value: RawJSON, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(",")
        buffer.writeJSONString(key)
        buffer.writeStaticString(":")
        buffer.writeImmutableBuffer(value.bytes)
    }
}

public import ChorusCore
public import NIOCore

/// The client side of ``ClientFrame``: the hub decodes these frames with `ClientFrameDecoder`,
/// and the Swift client writes them here, from the same type.
extension ClientFrame {
    /// Whether the frame goes in a binary WebSocket frame: a publish of bytes.
    public var isBinary: Bool {
        if case .publish(let publish) = self { return publish.binaryData != nil }
        return false
    }

    /// Writes the frame's JSON with request `id` (nil: none); a binary publish as a
    /// ``BinaryFrame`` (its fields in the header, its bytes after it).
    public func write(into buffer: inout ByteBuffer, id: Int? = nil) {
        if case .publish(let publish) = self, let bytes = publish.binaryData {
            BinaryFrame.write(into: &buffer, data: bytes) { header in
                header.writeStaticString(#"{"type":"#)
                Self.writePublish(publish, id: id, into: &header)
                header.writeStaticString("}")
            }
            return
        }
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
            Self.writePublish(publish, id: id, into: &buffer)
        case .ping(let timestamp):
            buffer.writeStaticString(#""ping""#)
            Self.writeID(id, into: &buffer)
            if let timestamp { Self.writeValue("timestamp", timestamp, into: &buffer) }
        case .presence(let topic, let page):
            buffer.writeStaticString(#""presence""#)
            Self.writeID(id, into: &buffer)
            Self.writeString("topic", topic.name, into: &buffer)
            Self.writePage(limit: page.limit, after: page.after, into: &buffer)
        case .presenceLeave(let topic), .presenceStats(let topic):
            buffer.writeJSONString(self.typeName)
            Self.writeID(id, into: &buffer)
            Self.writeString("topic", topic.name, into: &buffer)
        case .presenceJoin(let topic, let meta, let limit):
            buffer.writeStaticString(#""presence_join""#)
            Self.writeID(id, into: &buffer)
            Self.writeString("topic", topic.name, into: &buffer)
            if let meta { Self.writeValue("meta", meta, into: &buffer) }
            Self.writePage(limit: limit, after: nil, into: &buffer)
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
        case .syncSubscribe(let collection, let since):
            buffer.writeStaticString(#""sync_subscribe""#)
            Self.writeID(id, into: &buffer)
            Self.writeString("collection", collection.name, into: &buffer)
            if let since { buffer.writeString(#","since":\#(since)"#) }
        case .syncUnsubscribe(let collection):
            buffer.writeStaticString(#""sync_unsubscribe""#)
            Self.writeID(id, into: &buffer)
            Self.writeString("collection", collection.name, into: &buffer)
        case .syncMutate(let collection, let mutation):
            buffer.writeStaticString(#""sync_mutate""#)
            Self.writeID(id, into: &buffer)
            Self.writeString("collection", collection.name, into: &buffer)
            Self.writeString("op", mutation.op.rawValue, into: &buffer)
            if let record = mutation.recordID { Self.writeString("record_id", record, into: &buffer) }
            if let data = mutation.data {
                buffer.writeStaticString(#","data":"#)
                buffer.writeImmutableBuffer(data)
            }
            if let base = mutation.baseVersion { buffer.writeString(#","base_version":\#(base)"#) }
            Self.writeString("mutation_id", mutation.mutationID, into: &buffer)
        case .eventPublish(let event):
            buffer.writeStaticString(#""event_publish""#)
            Self.writeID(id, into: &buffer)
            Self.writeString("event_type", event.eventType, into: &buffer)
            Self.writeValue("data", event.data, into: &buffer)
            if let eventID = event.eventID { Self.writeString("event_id", eventID, into: &buffer) }
            if let key = event.partitionKey { Self.writeString("partition_key", key, into: &buffer) }
            if let correlation = event.correlationID { Self.writeString("correlation_id", correlation, into: &buffer) }
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
        if case .presenceLeave = self { "presence_leave" } else { "presence_stats" }
    }

    /// A presence page's `limit` and `after`, where given.
    private static func writePage(limit: Int?, after: PresenceCursor?, into buffer: inout ByteBuffer) {
        if let limit {
            buffer.writeStaticString(#","limit":"#)
            buffer.writeString(String(limit))
        }
        if let after { Self.writeString("after", after.text, into: &buffer) }
    }

    /// A publish's fields after `"type":`; `data` only when it is JSON.
    private static func writePublish(_ publish: PublishFrame, id: Int?, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#""publish""#)
        Self.writeID(id, into: &buffer)
        Self.writeString("topic", publish.topic.name, into: &buffer)
        if let event = publish.event { Self.writeString("event", event, into: &buffer) }
        if publish.binaryData == nil { Self.writeValue("data", publish.data, into: &buffer) }
        if let key = publish.idempotencyKey { Self.writeString("idempotency_key", key, into: &buffer) }
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

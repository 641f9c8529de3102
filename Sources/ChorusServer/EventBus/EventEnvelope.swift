public import ChorusCore
public import NIOCore

/// An event as JSON, the one shape the bus shows it in (bridged to topics, the log and the
/// dead-letter queue of the HTTP API): `{sequence, event_id, type, data, timestamp,
/// correlation_id?, partition_key?, headers?}`, `data` as published.
public enum EventEnvelope {
    /// The JSON object of `event`.
    public static func json(of event: LoggedEvent) -> ByteBuffer {
        var buffer = ByteBuffer()
        Self.write(event, into: &buffer)
        return buffer
    }

    /// Writes the JSON object of `event`.
    public static func write(_ logged: LoggedEvent, into buffer: inout ByteBuffer) {
        let event = logged.event
        buffer.writeStaticString(#"{"sequence":"#)
        buffer.writeString(String(logged.sequence))
        buffer.writeStaticString(#","event_id":"#)
        buffer.writeJSONString(event.eventID)
        buffer.writeStaticString(#","type":"#)
        buffer.writeJSONString(event.type)
        buffer.writeStaticString(#","data":"#)
        buffer.writeImmutableBuffer(event.data)
        buffer.writeStaticString(#","timestamp":"#)
        buffer.writeString(String(event.timestamp))
        if let correlation = event.correlationID {
            buffer.writeStaticString(#","correlation_id":"#)
            buffer.writeJSONString(correlation)
        }
        if let key = event.partitionKey {
            buffer.writeStaticString(#","partition_key":"#)
            buffer.writeJSONString(key)
        }
        if !event.headers.isEmpty {
            buffer.writeStaticString(#","headers":{"#)
            for (index, name) in event.headers.keys.sorted().enumerated() {
                if index > 0 { buffer.writeStaticString(",") }
                buffer.writeJSONString(name)
                buffer.writeStaticString(":")
                buffer.writeJSONString(event.headers[name] ?? "")
            }
            buffer.writeStaticString("}")
        }
        buffer.writeStaticString("}")
    }
}

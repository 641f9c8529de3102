import ChorusCore
import NIOCore

/// `event_publish`: a client publishes an event on the bus, when ``EventClientPolicy`` allows
/// it; answered by `ack` with the receipt (`sequence`, `event_id`, `timestamp`, `duplicate`)
/// once the event is durable, or by `error` (`invalid_event` with the schema's violations, as
/// over HTTP). The loop checks the event; the bus commits it on its own thread.
struct EventPublishFeature: ConnectionFeature {
    var frames: [FrameRoute] {
        // An event reaches consumers as a publish reaches subscribers.
        [FrameRoute("event_publish", limit: .publishRatePerConnection)]
    }

    func receive(_ frame: ClientFrame, id: RawJSON?, on connection: WebSocketConnection) {
        guard case .eventPublish(let event) = frame else { return }
        let hub = connection.hub
        let user = connection.info.user
        if let denial = EventClientPolicy.denial(type: event.eventType, user: user, allowed: hub.configuration.eventsClientTypes) {
            return connection.replyError(denial, id: id)
        }
        guard let bus = hub.eventBus.value else {
            return connection.replyError(ProtocolError(.unavailable, "the event bus is not running"), id: id)
        }
        let publish = EventPublish(
            type: event.eventType, data: ByteBuffer(bytes: event.data.bytes.readableBytesView), eventID: event.eventID,
            correlationID: event.correlationID, partitionKey: event.partitionKey,
            headers: [EventClientPolicy.userHeader: user ?? ""])
        let answer = connection.answerLater(id: id)
        let metrics = hub.metrics
        // No task: the bus answers from its committer's thread, and `answer` hops to the loop.
        bus.publish([publish]) { result in
            switch result {
            case .success(let receipts):
                answer(.success(.custom(type: "ack", fields: Self.receipt(receipts[0]))))
            case .failure(let violation as EventSchemaViolation):
                metrics.error(.invalidEvent)
                answer(.success(.custom(type: "error", fields: Self.violations(violation))))
            case .failure(let error as ProtocolError):
                answer(.failure(error))
            case .failure(let error):
                answer(.failure(ProtocolError(.internal, "the event could not be published: \(error)")))
            }
        }
    }

    /// `{"sequence","event_id","timestamp","duplicate"}`, as `POST /api/events/publish` answers.
    static func receipt(_ receipt: EventReceipt) -> ByteBuffer {
        var fields = ByteBuffer()
        fields.writeString(#"{"sequence":\#(receipt.sequence),"event_id":"#)
        fields.writeJSONString(receipt.eventID)
        fields.writeString(#","timestamp":\#(receipt.timestamp),"duplicate":\#(receipt.duplicate)}"#)
        return fields
    }

    /// `{"code":"invalid_event","message","violations":[{instance_location, keyword_location, message}]}`, as over HTTP.
    static func violations(_ violation: EventSchemaViolation) -> ByteBuffer {
        let error = violation.protocolError
        var fields = ByteBuffer()
        fields.writeStaticString(#"{"code":"#)
        fields.writeJSONString(error.code.rawValue)
        fields.writeStaticString(#","message":"#)
        fields.writeJSONString(error.message)
        fields.writeStaticString(#","violations":["#)
        for (index, item) in violation.violations.enumerated() {
            if index > 0 { fields.writeStaticString(",") }
            fields.writeStaticString(#"{"instance_location":"#)
            fields.writeJSONString(item.instanceLocation)
            fields.writeStaticString(#","keyword_location":"#)
            fields.writeJSONString(item.keywordLocation)
            fields.writeStaticString(#","message":"#)
            fields.writeJSONString(item.message)
            fields.writeStaticString("}")
        }
        fields.writeStaticString("]}")
        return fields
    }
}

import ChorusCore
import ChorusTestSupport
import Foundation
import NIOCore
import Testing

@testable import ChorusServer

/// `event_publish` against Tests/vectors/event-publish.json, shared with chorus.js's tests: the
/// hub decodes each client frame to its fields, refuses the invalid ones with `bad_request`, and
/// writes its receipt and schema-violation answers field for field. And the rule of who may
/// publish (``EventClientPolicy``).
@Suite struct EventPublishVectorTests {
    static var vectors: [String: Any] { SharedVectors.object("event-publish.json") }

    static func list(_ key: String) -> [[String: Any]] { Self.vectors[key] as! [[String: Any]] }

    static func json(_ object: Any) -> ByteBuffer {
        ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object, options: [.fragmentsAllowed]))
    }

    static func parsed(_ buffer: ByteBuffer) -> NSDictionary {
        try! JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as! NSDictionary
    }

    @Test func theHubDecodesEachRequestToItsFields() throws {
        for vector in Self.list("requests") {
            var frame = vector["frame"] as! [String: Any]
            frame["id"] = 5
            let decoded = ClientFrameDecoder().decode(Self.json(frame))
            guard case .success(.eventPublish(let event)) = decoded.result else {
                Issue.record("\(vector["name"]!): \(decoded.result)")
                continue
            }
            #expect(decoded.id.map { String(buffer: $0.bytes) } == "5")
            #expect(event.eventType == frame["event_type"] as? String)
            #expect(try JSONSerialization.jsonObject(with: Data(event.data.bytes.readableBytesView), options: .fragmentsAllowed) as? NSObject
                == (frame["data"] as? NSObject ?? NSNull()))
            #expect(event.eventID == frame["event_id"] as? String)
            #expect(event.partitionKey == frame["partition_key"] as? String)
            #expect(event.correlationID == frame["correlation_id"] as? String)
        }
    }

    @Test func theHubRefusesEachInvalidFrameWithBadRequestEchoingItsID() {
        for vector in Self.list("invalid") {
            var frame = vector["frame"] as! [String: Any]
            frame["id"] = "x"
            let decoded = ClientFrameDecoder().decode(Self.json(frame))
            guard case .failure(let error) = decoded.result else {
                Issue.record("\(vector["name"]!) was accepted")
                continue
            }
            #expect(error.code == .badRequest, "\(vector["name"]!)")
            #expect(decoded.id.map { String(buffer: $0.bytes) } == "\"x\"")
        }
    }

    @Test func theHubWritesEachReplyFieldForField() {
        let replies = Dictionary(uniqueKeysWithValues: Self.list("replies").map { ($0["name"] as! String, $0["frame"] as! [String: Any]) })
        let receipt = EventReceipt(sequence: 42, eventID: "order-7", timestamp: 1_796_600_000_000, duplicate: false)
        var duplicate = receipt
        duplicate.duplicate = true
        let violation = EventSchemaViolation(
            type: "chat.typing",
            violations: [SchemaViolation(instanceLocation: "/room", keywordLocation: "/properties/room/type", message: "expected string, got integer")])
        let written: [(String, ServerFrame, Int)] = [
            ("receipt", .custom(type: "ack", fields: EventPublishFeature.receipt(receipt)), 1),
            ("receipt_duplicate", .custom(type: "ack", fields: EventPublishFeature.receipt(duplicate)), 2),
            ("schema_violation", .custom(type: "error", fields: EventPublishFeature.violations(violation)), 3),
        ]
        for (name, frame, id) in written {
            var buffer = ByteBuffer()
            frame.write(into: &buffer, id: try? RawJSON(validating: ByteBuffer(string: String(id))))
            #expect(Self.parsed(buffer) == replies[name]! as NSDictionary, "\(name): \(String(buffer: buffer))")
        }
    }

    @Test func onlyUsersPublishOnlyTheListedTypes() throws {
        let allowed = [try TopicPattern("chat.*"), try TopicPattern("game.**")]
        #expect(EventClientPolicy.denial(type: "chat.typing", user: "alice", allowed: allowed) == nil)
        #expect(EventClientPolicy.denial(type: "game.a.b.c", user: "alice", allowed: allowed) == nil)
        #expect(EventClientPolicy.denial(type: "chat.typing.deep", user: "alice", allowed: allowed)?.code == .forbidden)
        #expect(EventClientPolicy.denial(type: "order.created", user: "alice", allowed: allowed)?.code == .forbidden)
        #expect(EventClientPolicy.denial(type: "chat.*", user: "alice", allowed: allowed)?.code == .forbidden)
        #expect(EventClientPolicy.denial(type: "chat.typing", user: nil, allowed: allowed)?.code == .forbidden)
        #expect(EventClientPolicy.denial(type: "chat.typing", user: "alice", allowed: [])?.code == .forbidden)
    }
}

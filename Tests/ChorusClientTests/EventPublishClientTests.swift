import ChorusCore
import ChorusTestSupport
import Foundation
import NIOCore
import Testing

@testable import ChorusClient

/// The Swift client's `event_publish` against Tests/vectors/event-publish.json (shared with the
/// hub's tests and chorus.js's): each request is written field for field, and the receipt is
/// read as a receipt, not as a plain publish `ack`.
@Suite struct EventPublishClientTests {
    static var vectors: [String: Any] { SharedVectors.object("event-publish.json") }

    static func object(_ buffer: ByteBuffer) -> NSDictionary {
        try! JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as! NSDictionary
    }

    @Test func eachRequestIsWrittenAsTheVectorSays() throws {
        for vector in Self.vectors["requests"] as! [[String: Any]] {
            let call = vector["call"] as! [String: Any]
            let options = call["options"] as? [String: String] ?? [:]
            let data = try JSONSerialization.data(withJSONObject: call["data"] ?? NSNull(), options: .fragmentsAllowed)
            let frame = EventPublishFrame(
                eventType: call["type"] as! String, data: try RawJSON.parsing(String(decoding: data, as: UTF8.self)),
                eventID: options["eventId"], partitionKey: options["partitionKey"], correlationID: options["correlationId"])
            var buffer = ByteBuffer()
            ClientFrame.eventPublish(frame).write(into: &buffer, id: 9)
            var expected = vector["frame"] as! [String: Any]
            expected["id"] = 9
            #expect(Self.object(buffer) == expected as NSDictionary, "\(vector["name"]!): \(String(buffer: buffer))")
        }
    }

    @Test func theReceiptIsReadAsAReceipt() throws {
        let receipt = (Self.vectors["replies"] as! [[String: Any]]).first { $0["name"] as? String == "receipt" }!["frame"]!
        let text = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: receipt))
        guard case .reply(.custom("ack", let fields?), let id) = try InboundFrame.decode(text) else {
            Issue.record("the receipt was not kept whole")
            return
        }
        #expect(id == 1)
        let object = try JSONObject(parsing: fields)
        #expect(object["sequence"]?.int64 == 42 && object["event_id"]?.string == "order-7" && object["duplicate"]?.bool == false)
        // A publish's ack stays an ack.
        guard case .reply(.ack(let messageID, _, _, _), _) = try InboundFrame.decode(ByteBuffer(string: #"{"type":"ack","id":2,"message_id":"m"}"#)) else {
            Issue.record("a plain ack changed")
            return
        }
        #expect(messageID == "m")
    }
}

import ChorusCore
import ChorusTestSupport
import Foundation
import NIOCore
import Testing

@testable import ChorusClient

/// What the client reads from replies besides the vectors' round trip: a dropped publish, an
/// invalid event's violations, a conflict's record, a live `sync_change`.
@Suite struct ReplyDecodingTests {
    static func reply(_ text: String) throws -> ServerFrame {
        guard case .reply(let frame, _) = try InboundFrame.decode(ByteBuffer(string: text)) else {
            throw HubError("not a reply: \(text)")
        }
        return frame
    }

    @Test func aPublishTheTransformDroppedSaysSo() throws {
        #expect(try PublishAck(Self.reply(#"{"type":"ack","id":1,"message_id":"m","dropped":true}"#)).dropped)
        #expect(try !PublishAck(Self.reply(#"{"type":"ack","id":1,"message_id":"m"}"#)).dropped)
    }

    @Test func anInvalidEventKeepsItsViolations() throws {
        let vector = (SharedVectors.object("event-publish.json")["replies"] as! [[String: Any]]).first { $0["name"] as? String == "schema_violation" }!
        let text = String(decoding: try JSONSerialization.data(withJSONObject: vector["frame"]!), as: UTF8.self)
        let error = try #require(ChorusClientError(reply: try Self.reply(text)))
        #expect(error.code == .invalidEvent)
        #expect(error.message.hasPrefix("'data' does not match"))
        #expect(error.violations == [SchemaViolation(instanceLocation: "/room", keywordLocation: "/properties/room/type", message: "expected string, got integer")])
    }

    @Test func aConflictCarriesTheCurrentRecord() throws {
        let text = #"{"type":"error","id":8,"code":"conflict","message":"at 8","current":{"id":"t1","version":8,"data":{"a":1},"updated_at":5,"updated_by":"bob"}}"#
        let error = try #require(ChorusClientError(reply: try Self.reply(text)))
        #expect(error.code == .conflict && error.current?.version == 8 && error.current?.updatedBy == "bob")
        let deleted = try #require(ChorusClientError(reply: try Self.reply(#"{"type":"error","code":"conflict","message":"gone","current":null}"#)))
        #expect(deleted.code == .conflict && deleted.current == nil)
    }

    @Test func aLiveSyncChangeIsReadAsAChange() throws {
        let text = #"{"type":"sync_change","collection":"tasks:x","op":"update","record_id":"t1","version":4,"data":{"done":true},"mutation_id":"m","by":"ada"}"#
        guard case .syncChange(let change) = try InboundFrame.decode(ByteBuffer(string: text)) else {
            Issue.record("not a sync change")
            return
        }
        #expect(change.collection == "tasks:x" && change.op == .update && change.version == 4 && change.mutationID == "m" && change.by == "ada")
        #expect(change.data == ByteBuffer(string: #"{"done":true}"#))
        // The hub's encoder writes the same frame.
        var written = ByteBuffer()
        change.writeFrame(into: &written)
        #expect(try JSONSerialization.jsonObject(with: Data(written.readableBytesView)) as? NSDictionary
            == JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary)
    }

    @Test func badCollaborationFramesAreRefusedNotCrashed() {
        for text in [
            #"{"type":"presence_state","topic":"r","members":[{"client":"c"}],"count":1,"users":1}"#,
            #"{"type":"presence_diff","topic":"r","joins":"x","leaves":[]}"#,
            #"{"type":"signal","data":{}}"#,
            #"{"type":"sync_snapshot","collection":"c","version":-1,"records":[]}"#,
            #"{"type":"sync_change","collection":"c","op":"merge","record_id":"r","version":1}"#,
        ] {
            #expect(throws: ProtocolError.self, "\(text)") { try InboundFrame.decode(ByteBuffer(string: text)) }
        }
    }
}

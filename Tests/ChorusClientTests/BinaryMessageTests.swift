import ChorusCore
import Foundation
import NIOCore
import ChorusTestSupport
import Testing

@testable import ChorusClient

/// Binary messages in the Swift client: the frame it writes is the one the hub decodes, the
/// hub's frames (Tests/vectors/binary-frames.json) and base64 JSON both give the bytes, the queue
/// keeps a binary publish, and a real hub carries one end to end.
@Suite struct BinaryMessageTests {
    struct Vectors: Decodable {
        struct Valid: Decodable {
            var name: String
            var direction: String
            var frame: String
            var data: String
        }
        var valid: [Valid]
    }

    static func bytes(_ hex: String) -> ByteBuffer {
        ByteBuffer(hex: hex)
    }

    static func vectors() throws -> Vectors {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("vectors/binary-frames.json")
        return try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: url))
    }

    @Test func aBinaryPublishIsTheFrameTheHubDecodes() throws {
        var frame = PublishFrame(topic: try Topic("chat:room1"), event: "blob", data: try RawJSON.parsing("null"), idempotencyKey: "k-1")
        frame.binaryData = ByteBuffer(bytes: [0, 1, 0xFF])
        let clientFrame = ClientFrame.publish(frame)
        #expect(clientFrame.isBinary)
        var buffer = ByteBuffer()
        clientFrame.write(into: &buffer, id: 9)
        let decoded = ClientFrameDecoder().decodeBinary(buffer)
        #expect(decoded.id?.int64 == 9)
        guard case .success(.publish(let back)) = decoded.result else {
            Issue.record("\(decoded.result)")
            return
        }
        #expect(back.topic.name == "chat:room1" && back.event == "blob" && back.idempotencyKey == "k-1")
        #expect(back.binaryData == ByteBuffer(bytes: [0, 1, 0xFF]))
    }

    @Test func theHubsBinaryFrameGivesTheBytes() throws {
        let vector = try #require(try Self.vectors().valid.first { $0.direction == "hub" })
        guard case .message(let message) = try InboundFrame.decodeBinary(Self.bytes(vector.frame)) else {
            Issue.record("not a message")
            return
        }
        #expect(message.isBinary)
        #expect(message.bytes == Self.bytes(vector.data))
        #expect(message.offset == 3 && message.epoch == "e1" && message.event == "blob")
    }

    @Test func base64JSONGivesTheSameBytes() throws {
        let text = #"{"type":"message","topic":"t","event":"blob","data":"AAECAw==","encoding":"base64","message_id":"m","ts":1}"#
        guard case .message(let message) = try InboundFrame.decode(ByteBuffer(string: text)) else {
            Issue.record("not a message")
            return
        }
        #expect(message.isBinary && message.dataBytes == Data([0, 1, 2, 3]))
        let bad = #"{"type":"message","topic":"t","data":"%%","encoding":"base64","ts":1}"#
        #expect(throws: ProtocolError.self) { try InboundFrame.decode(ByteBuffer(string: bad)) }
        #expect(throws: ProtocolError.self) { try InboundFrame.decodeBinary(ByteBuffer(bytes: [1, 0, 9])) }
    }

    @Test func theQueueKeepsABinaryPublishAndReadsOldEntries() throws {
        let entry = QueuedPublish(key: "k", topic: "files", event: "png", bytes: [0, 1, 0xFF])
        let back = try JSONDecoder().decode(QueuedPublish.self, from: try JSONEncoder().encode(entry))
        #expect(back == entry && back.encoding == "base64" && back.data == "AAH/")
        let old = try JSONDecoder().decode(QueuedPublish.self, from: Data(#"{"key":"k","topic":"t","event":"e","data":"1"}"#.utf8))
        #expect(old.encoding == nil)
    }

    @Test func bytesCrossARealHub() async throws {
        let hub = try await HubProcess(["--namespaces", #"{"chat": {"history_size": 100}}"#]).start()
        defer { hub.kill() }
        let binary = try ChorusClient(url: hub.url + "?binary=1", configuration: HubIntegrationTests.configuration())
        let json = try ChorusClient(url: hub.url, configuration: HubIntegrationTests.configuration())
        let publisher = try ChorusClient(url: hub.url, configuration: HubIntegrationTests.configuration())
        for client in [binary, json, publisher] { await client.connect() }
        let payload: [UInt8] = Array(0...255) + [0, 0xFF]
        var binaryMessages = try await binary.channel("chat:bytes").subscribe().makeAsyncIterator()
        var jsonMessages = try await json.channel("chat:bytes").subscribe().makeAsyncIterator()
        let ack = try await publisher.publish(topic: "chat:bytes", event: "blob", bytes: payload)
        #expect(ack.offset == 1)
        let viaBinary = try #require(await binaryMessages.next())
        let viaJSON = try #require(await jsonMessages.next())
        #expect(viaBinary.isBinary && viaBinary.dataBytes == Data(payload) && viaBinary.offset == 1)
        #expect(viaJSON.isBinary && viaJSON.dataBytes == Data(payload) && viaJSON.frameJSON.contains(#""encoding":"base64""#))
        for client in [binary, json, publisher] { await client.close() }
    }
}

import Foundation
import NIOCore
import ChorusTestSupport
import Testing

@testable import ChorusCore

/// The binary frames of Tests/vectors/binary-frames.json (shared with chorus.js's and the Swift
/// client's tests): the decoder takes the client ones, the encoder writes the hub one byte for
/// byte, and every invalid one (and every truncation) is a clear `bad_request`, never a crash.
@Suite struct BinaryFrameTests {
    struct Vectors: Decodable {
        var version: Int
        var max_header_length: Int
        var valid: [Valid]
        var invalid: [Invalid]
    }

    struct Valid: Decodable {
        var name: String
        var direction: String
        var frame: String
        var data: String
    }

    struct Invalid: Decodable {
        var name: String
        var frame: String
        var error: String
    }

    static func load() throws -> Vectors {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("vectors/binary-frames.json")
        return try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: url))
    }

    static func bytes(_ hex: String) -> ByteBuffer {
        ByteBuffer(hex: hex)
    }

    let decoder = ClientFrameDecoder()

    @Test func constantsMatchTheVectors() throws {
        let vectors = try Self.load()
        #expect(vectors.version == Int(BinaryFrame.version))
        #expect(vectors.max_header_length == BinaryFrame.maxHeaderLength)
    }

    @Test func clientVectorsDecodeToPublishesOfTheirBytes() throws {
        for vector in try Self.load().valid where vector.direction == "client" {
            let decoded = self.decoder.decodeBinary(Self.bytes(vector.frame))
            guard case .success(.publish(let publish)) = decoded.result else {
                Issue.record("\(vector.name): \(decoded.result)")
                continue
            }
            #expect(publish.binaryData == Self.bytes(vector.data), "\(vector.name)")
        }
    }

    @Test func publishFieldsAndIDComeFromTheHeader() throws {
        let vector = try #require(try Self.load().valid.first { $0.name == "publish with event, id and bytes" })
        let decoded = self.decoder.decodeBinary(Self.bytes(vector.frame))
        #expect(decoded.id?.int64 == 7)
        guard case .success(.publish(let publish)) = decoded.result else {
            Issue.record("\(decoded.result)")
            return
        }
        #expect(publish.topic.name == "chat:room1")
        #expect(publish.event == "blob")
        #expect(publish.data.isNull)
    }

    @Test func theHubWritesTheMessageVector() throws {
        let vector = try #require(try Self.load().valid.first { $0.direction == "hub" })
        let envelope = MessageEnvelope(
            topic: "chat:room1", event: "blob", data: Self.bytes(vector.data), messageID: "m1", offset: 3, epoch: "e1", timestamp: 1_700_000_000_000, binary: true
        )
        var frame = ByteBuffer()
        envelope.writeBinaryFrame(into: &frame)
        #expect(frame == Self.bytes(vector.frame))
    }

    @Test func invalidVectorsAreClearBadRequests() throws {
        for vector in try Self.load().invalid {
            let decoded = self.decoder.decodeBinary(Self.bytes(vector.frame))
            guard case .failure(let error) = decoded.result else {
                Issue.record("\(vector.name) was accepted")
                continue
            }
            #expect(error.code == .badRequest, "\(vector.name)")
            #expect(error.message.contains(vector.error), "\(vector.name): \(error.message)")
        }
    }

    @Test func everyTruncationIsAnErrorOrAShorterPublish() throws {
        for vector in try Self.load().valid where vector.direction == "client" {
            let frame = Self.bytes(vector.frame)
            let dataStart = frame.readableBytes - Self.bytes(vector.data).readableBytes
            for length in 0..<frame.readableBytes {
                let decoded = self.decoder.decodeBinary(frame.getSlice(at: 0, length: length)!)
                switch decoded.result {
                case .success(.publish(let publish)):
                    #expect(length >= dataStart && publish.binaryData?.readableBytes == length - dataStart, "\(vector.name) cut at \(length)")
                case .success(let other):
                    Issue.record("\(vector.name) cut at \(length): \(other)")
                case .failure(let error):
                    #expect(error.code == .badRequest && length < dataStart, "\(vector.name) cut at \(length): \(error.message)")
                }
            }
        }
    }

    @Test func jsonFramesCarryBinaryDataAsBase64() {
        let envelope = MessageEnvelope(topic: "t", event: "message", data: ByteBuffer(bytes: [0, 1, 0xFF]), messageID: "m", timestamp: 5, binary: true)
        var frame = ByteBuffer()
        envelope.writeFrame(into: &frame)
        #expect(String(buffer: frame) == #"{"type":"message","topic":"t","event":"message","data":"AAH/","encoding":"base64","message_id":"m","ts":5}"#)
    }

    @Test func storedDataKeepsTheEncoding() {
        var binary = MessageEnvelope(topic: "t", event: "message", data: ByteBuffer(bytes: [0x7B, 0x7D]), messageID: "m", timestamp: 5, binary: true)
        var json = binary
        json.binary = false
        #expect(binary.storedData.readableBytes == 3)
        #expect(json.storedData == json.data)
        var read = json
        read.setStoredData(binary.storedData)
        #expect(read.binary && read.data == binary.data)
        read.setStoredData(json.storedData)
        #expect(!read.binary && read.data == json.data)
        binary.data = ByteBuffer()
        read.setStoredData(binary.storedData)
        #expect(read.binary && read.data.readableBytes == 0)
    }
}

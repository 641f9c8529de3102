import ChorusCore
import Foundation
import NIOCore
import Testing

@testable import ChorusClient

/// Tests/vectors/protocol-v1.1.json, the fixtures the hub's encoder and chorus.js check too:
/// the Swift client must read every frame, re-encode it exactly as the hub does, and act on
/// each `disconnect` as the vector says.
@Suite struct ProtocolVectorClientTests {
    struct Vectors: Decodable {
        var subprotocol: String
        var reasons: [String]
        var frames: [Vector]
    }

    struct Vector: Decodable {
        var name: String
        var client: String?
    }

    static let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("vectors/protocol-v1.1.json")

    /// Each vector's `frame` object as JSON text.
    static func frames() throws -> [(Vector, String)] {
        let data = try Data(contentsOf: Self.url)
        let vectors = try JSONDecoder().decode(Vectors.self, from: data)
        let raw = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let frames = try #require(raw["frames"] as? [[String: Any]])
        return try zip(vectors.frames, frames).map { vector, entry in
            (vector, String(decoding: try JSONSerialization.data(withJSONObject: try #require(entry["frame"])), as: UTF8.self))
        }
    }

    static func canonical(_ text: String) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary)
    }

    @Test func theClientOffersTheVectorsSubprotocol() throws {
        let vectors = try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: Self.url))
        #expect(ProtocolVersion.v1_1.subprotocol == vectors.subprotocol)
    }

    @Test func everyFrameDecodesAndReencodesAsTheHubWritesIt() throws {
        for (vector, text) in try Self.frames() {
            let decoded = try InboundFrame.decode(ByteBuffer(string: text))
            guard case .reply(let frame, let id) = decoded else {
                Issue.record("\(vector.name): decoded as a message")
                continue
            }
            var written = ByteBuffer()
            frame.write(into: &written, id: id.map { try! RawJSON.parsing(String($0)) }, version: .v1_1)
            #expect(try Self.canonical(String(buffer: written)) == Self.canonical(text), "\(vector.name)")
        }
    }

    @Test func theDroppedAckSaysSo() throws {
        let (_, text) = try #require(try Self.frames().first { $0.0.name == "ack_dropped" })
        guard case .reply(let frame, _) = try InboundFrame.decode(ByteBuffer(string: text)) else {
            Issue.record("not a reply")
            return
        }
        #expect(try PublishAck(frame) == PublishAck(messageID: "m-9", offset: nil, epoch: nil, dropped: true))
    }

    @Test func disconnectFramesGetTheVectorsAction() throws {
        var checked = 0
        for (vector, text) in try Self.frames() {
            guard case .reply(let frame, _) = try InboundFrame.decode(ByteBuffer(string: text)) else { continue }
            if vector.client == "open" {
                guard case .connected = frame else {
                    Issue.record("\(vector.name): 'open' on a frame that is not connected")
                    continue
                }
                checked += 1
            }
            guard let notice = frame.disconnectNotice, let expected = vector.client else { continue }
            let action = CloseAction.after(closeCode: notice.code, disconnect: notice)
            let spelled = switch action {
            case .reconnect: "reconnect"
            case .refreshToken: "refresh"
            case .stop: "stop"
            }
            #expect(spelled == expected, "\(vector.name)")
            checked += 1
        }
        #expect(checked >= 8)
    }

    @Test func closeCodesWithoutADisconnectFrame() {
        #expect(CloseAction.after(closeCode: 1000, disconnect: nil) == .stop)
        #expect(CloseAction.after(closeCode: 1009, disconnect: nil) == .stop)
        #expect(CloseAction.after(closeCode: 4008, disconnect: nil) == .reconnect)
        #expect(CloseAction.after(closeCode: nil, disconnect: nil) == .reconnect)
        #expect(CloseAction.after(closeCode: 4001, disconnect: nil) == .stop)
        // A v1 hub's 4001 with reconnect: true (expired while connected) renews the token.
        let v1 = DisconnectNotice(code: 4001, reason: nil, message: "token expired", reconnect: true)
        #expect(CloseAction.after(closeCode: 4001, disconnect: v1) == .refreshToken)
    }
}

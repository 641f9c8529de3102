import ChorusCore
import Foundation
import NIOHTTP1
import Testing

@testable import ChorusServer

/// Protocol v1.1 is asked for with the WebSocket subprotocol `chorus.v1.1`; without it a
/// connection speaks v1, byte for byte as before.
@Suite struct ProtocolNegotiationTests {
    static func upgrade(offering subprotocols: [String]) -> String {
        TransportRouterTests.upgrade.replacingOccurrences(
            of: "\r\n\r\n",
            with: subprotocols.map { "\r\nSec-WebSocket-Protocol: \($0)" }.joined() + "\r\n\r\n"
        )
    }

    static func head(offering subprotocols: [String]) -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: .GET, uri: "/ws", headers: HTTPHeaders(subprotocols.map { ("Sec-WebSocket-Protocol", $0) }))
    }

    @Test func theOfferIsReadFromEveryHeaderAndList() {
        #expect(WebSocketHandshake.protocolVersion(requestedBy: Self.head(offering: [])) == .v1)
        #expect(WebSocketHandshake.protocolVersion(requestedBy: Self.head(offering: ["chorus.v1.1"])) == .v1_1)
        #expect(WebSocketHandshake.protocolVersion(requestedBy: Self.head(offering: ["mqtt, chorus.v1.1"])) == .v1_1)
        #expect(WebSocketHandshake.protocolVersion(requestedBy: Self.head(offering: ["mqtt", " chorus.v1.1 "])) == .v1_1)
        #expect(WebSocketHandshake.protocolVersion(requestedBy: Self.head(offering: ["chorus.v2"])) == .v1)
    }

    @Test func theResponseSelectsTheSubprotocolOnlyForV1_1() {
        #expect(WebSocketHandshake.response(for: Self.head(offering: []), version: .v1_1).headers["Sec-WebSocket-Protocol"] == ["chorus.v1.1"])
        #expect(WebSocketHandshake.response(for: Self.head(offering: []), version: .v1).headers["Sec-WebSocket-Protocol"].isEmpty)
    }

    @Test func aV1_1ConnectionGetsConnectedFirst() async throws {
        var connection = try await TransportRouterTests.Connection()
        try await connection.send(Array(Self.upgrade(offering: ["chorus.v1.1"]).utf8))
        let bytes = try await connection.receive(Array(#""protocol":"1.1"}"#.utf8))
        let head = String(decoding: bytes, as: UTF8.self)
        #expect(head.hasPrefix("HTTP/1.1 101"))
        #expect(head.contains("Sec-WebSocket-Protocol: chorus.v1.1\r\n"))
        // The first frame after the head: an unmasked text frame (0x81, a one-byte length) holding `connected`.
        let end = try #require(bytes.indices.first { bytes[$0...].starts(with: Array("\r\n\r\n".utf8)) }) + 4
        #expect(bytes[end] == 0x81)
        #expect(String(decoding: bytes[(end + 2)...], as: UTF8.self).hasPrefix(#"{"type":"connected","client":""#))
        await connection.close()
    }

    @Test func aConnectionOfferingOnlyUnknownSubprotocolsSpeaksV1() async throws {
        var connection = try await TransportRouterTests.Connection()
        try await connection.send(Array(Self.upgrade(offering: ["chorus.v2"]).utf8) + TransportRouterTests.ping)
        let text = String(decoding: try await connection.receive(TransportRouterTests.pong), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 101"))
        #expect(!text.contains("Sec-WebSocket-Protocol"))
        #expect(!text.contains("connected"), "a v1 connection gets no frame before its first request's answer")
        await connection.close()
    }
}

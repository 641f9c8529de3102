import ChorusCore
import ChorusJWT
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

    static let secret = "protocol-negotiation-test-secret"

    /// A connection to a hub that requires tokens, upgraded with `token` in `?token=`, and what
    /// the hub wrote until `until`.
    static func connect(token: String, offering subprotocols: [String], until: String) async throws -> (TransportRouterTests.Connection, String) {
        var configuration = HubConfiguration()
        configuration.jwtSecret = Self.secret
        var connection = try await TransportRouterTests.Connection(configuration: configuration)
        let request = Self.upgrade(offering: subprotocols).replacingOccurrences(of: "GET /ws ", with: "GET /ws?token=\(token) ")
        try await connection.send(Array(request.utf8))
        let bytes = try await connection.receive(Array(until.utf8))
        return (connection, String(decoding: bytes, as: UTF8.self))
    }

    @Test func aV1_1TokenAtConnectIsAnsweredWithConnectedInsteadOfAuthSuccess() async throws {
        let token = HS256TokenSigner(secret: Self.secret).token(subject: "alice", expiresAt: 4_000_000_000)
        let (connection, text) = try await Self.connect(token: token, offering: ["chorus.v1.1"], until: "}")
        #expect(text.contains(#"{"type":"connected","client":""#))
        #expect(text.contains(#","user":"alice","protocol":"1.1","expires_at":4000000000000}"#))
        #expect(!text.contains("auth_success"))
        await connection.close()
    }

    @Test func aBadTokenAtConnectGetsReasonsOnV1_1AndTheSameBytesAsEverOnV1() async throws {
        let expired = HS256TokenSigner(secret: Self.secret).token(subject: "alice", expiresAt: 1_000)
        var (connection, text) = try await Self.connect(token: expired, offering: ["chorus.v1.1"], until: #""reconnect":false}"#)
        #expect(text.contains(#"{"type":"error","code":"unauthorized","reason":"token_expired","message":"token rejected: expired"}"#))
        #expect(text.contains(#"{"type":"disconnect","code":4001,"reason":"token_expired","message":"token rejected: expired","reconnect":false}"#))
        #expect(!text.contains("connected"))
        await connection.close()

        let forged = HS256TokenSigner(secret: "another-secret").token(subject: "alice", expiresAt: nil)
        (connection, text) = try await Self.connect(token: forged, offering: [], until: #""reconnect":false}"#)
        #expect(text.contains(#"{"type":"error","code":"unauthorized","message":"invalid token: its signature does not verify"}"#))
        #expect(text.contains(#"{"type":"disconnect","code":4001,"reason":"invalid token: its signature does not verify","reconnect":false}"#))
        await connection.close()
    }
}

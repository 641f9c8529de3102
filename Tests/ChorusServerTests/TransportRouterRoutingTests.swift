import ChorusCore
import Foundation
import NIOCore
import Testing

@testable import ChorusServer

/// How the router answers what it does not hand over (on a testing channel, as
/// ``TransportRouterTests``): every refusal is an HTTP error with a JSON body, then a close.
extension TransportRouterTests {
    static func tokenRequired() -> HubConfiguration {
        var configuration = HubConfiguration()
        configuration.jwtSecret = AuthenticatorTests.secret
        return configuration
    }

    static func request(_ target: String, headers: String = "") -> [UInt8] {
        Array("GET \(target) HTTP/1.1\r\nHost: x\r\n\(headers)\r\n".utf8)
    }

    @Test func anSSEStreamWithoutARequiredTokenIsRefused() async throws {
        var connection = try await Connection(configuration: Self.tokenRequired())
        try await connection.send(Self.request("/sse?topic=a"))
        let text = String(decoding: try await connection.receive(Array(#""code":"unauthorized""#.utf8)), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 401"))
        #expect(text.contains("content-type: application/json"))
        await connection.close()
    }

    @Test func anSSEStreamWithAValidTokenStarts() async throws {
        var connection = try await Connection(configuration: Self.tokenRequired())
        let token = AuthenticatorTests.token(#"{"sub":"ann"}"#)
        try await connection.send(Self.request("/sse?topic=a", headers: "Authorization: Bearer \(token)\r\n"))
        let text = String(decoding: try await connection.receive(Array(": connected ".utf8)), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream"))
        await connection.close()
    }

    @Test(arguments: [
        ("/sse", "name at least one topic"),
        ("/sse?topic=a%20b", "invalid topic"),
    ])
    func badSSEStreamsAreBadRequests(target: String, message: String) async throws {
        var connection = try await Connection()
        try await connection.send(Self.request(target))
        let text = String(decoding: try await connection.receive(Array(message.utf8)), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 400"))
        await connection.close()
    }

    @Test func anUpgradeWithoutAKeyIsABadRequest() async throws {
        var connection = try await Connection()
        try await connection.send(Self.request("/ws", headers: "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"))
        let text = String(decoding: try await connection.receive(Array(#""code":"bad_request""#.utf8)), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 400"))
        await connection.close()
    }

    @Test func aTokenInTheUpgradeAuthenticatesTheWebSocket() async throws {
        var connection = try await Connection(configuration: Self.tokenRequired())
        let token = AuthenticatorTests.token(#"{"sub":"ann"}"#)
        let upgrade = Self.upgrade.replacingOccurrences(of: "GET /ws ", with: "GET /ws?topic=a&token=\(token) ")
        try await connection.send(Array(upgrade.utf8))
        let text = String(decoding: try await connection.receive(Array(#"{"type":"subscribed","topic":"a"}"#.utf8)), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 101"))
        #expect(text.contains(#""type":"auth_success""#) && text.contains(#""user":"ann""#))
        await connection.close()
    }
}

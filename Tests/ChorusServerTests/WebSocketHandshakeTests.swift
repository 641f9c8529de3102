import ChorusCore
import NIOHTTP1
import Testing

@testable import ChorusServer

@Suite struct WebSocketHandshakeTests {
    func head(_ headers: [(String, String)], method: HTTPMethod = .GET, version: HTTPVersion = .http1_1) -> HTTPRequestHead {
        HTTPRequestHead(version: version, method: method, uri: "/ws", headers: HTTPHeaders(headers))
    }

    let valid = [
        ("Host", "x"), ("Upgrade", "websocket"), ("Connection", "keep-alive, Upgrade"),
        ("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ]

    @Test func acceptValueMatchesRFC6455Example() {
        #expect(WebSocketHandshake.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(WebSocketHandshake.problem(with: self.head(self.valid)) == nil)
        let response = WebSocketHandshake.response(for: self.head(self.valid))
        #expect(response.status == .switchingProtocols)
        #expect(response.headers["Sec-WebSocket-Accept"].first == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func invalidUpgradesSayWhy() {
        func without(_ name: String) -> [(String, String)] { self.valid.filter { $0.0 != name } }
        func replacing(_ name: String, _ value: String) -> [(String, String)] { without(name) + [(name, value)] }
        #expect(WebSocketHandshake.problem(with: self.head(self.valid, method: .POST))?.contains("GET") == true)
        #expect(WebSocketHandshake.problem(with: self.head(self.valid, version: .http1_0))?.contains("HTTP/1.1") == true)
        #expect(WebSocketHandshake.problem(with: self.head(without("Upgrade")))?.contains("Upgrade: websocket") == true)
        #expect(WebSocketHandshake.problem(with: self.head(without("Connection")))?.contains("Connection: Upgrade") == true)
        #expect(WebSocketHandshake.problem(with: self.head(replacing("Sec-WebSocket-Version", "8")))?.contains("Version") == true)
        #expect(WebSocketHandshake.problem(with: self.head(replacing("Sec-WebSocket-Key", "short")))?.contains("Key") == true)
        #expect(WebSocketHandshake.problem(with: self.head(without("Sec-WebSocket-Key")))?.contains("Key") == true)
    }

    @Test func base64MatchesKnownVectors() {
        #expect(Base64.encode([], .standard) == "")
        #expect(Base64.encode(Array("f".utf8), .standard) == "Zg==")
        #expect(Base64.encode(Array("fo".utf8), .standard) == "Zm8=")
        #expect(Base64.encode(Array("foobar".utf8), .standard) == "Zm9vYmFy")
    }
}

import ChorusCore
import Crypto
import NIOCore
import NIOHTTP1

/// Validates a WebSocket opening handshake (RFC 6455 §4.2) and builds the 101 response.
enum WebSocketHandshake {
    private static let magicGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// Nil when the request is a valid upgrade; otherwise why it is not.
    static func problem(with head: HTTPRequestHead) -> String? {
        guard head.method == .GET else { return "a WebSocket upgrade must use GET" }
        guard head.version.major > 1 || (head.version.major == 1 && head.version.minor >= 1) else { return "a WebSocket upgrade needs HTTP/1.1" }
        guard head.headers[canonicalForm: "upgrade"].contains(where: { $0.lowercased() == "websocket" }) else {
            return "missing 'Upgrade: websocket' header"
        }
        guard head.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "upgrade" }) else {
            return "missing 'Connection: Upgrade' header"
        }
        guard head.headers["sec-websocket-version"].first == "13" else {
            return "unsupported or missing Sec-WebSocket-Version (13 is required)"
        }
        guard let key = head.headers["sec-websocket-key"].first, Self.isValidKey(key) else {
            return "missing or malformed Sec-WebSocket-Key"
        }
        return nil
    }

    /// The key is 16 random bytes in base64: 24 characters ending in "==".
    private static func isValidKey(_ key: String) -> Bool {
        let trimmed = key.trimmingSpaces()
        guard trimmed.utf8.count == 24, trimmed.hasSuffix("==") else { return false }
        return trimmed.utf8.dropLast(2).allSatisfy { byte in
            (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2B || byte == 0x2F
        }
    }

    static func acceptValue(forKey key: String) -> String {
        let digest = Insecure.SHA1.hash(data: Array((key.trimmingSpaces() + Self.magicGUID).utf8))
        return Base64.encode(digest, .standard)
    }

    /// The protocol version the request's `Sec-WebSocket-Protocol` offers (comma-separated,
    /// in one header or several); v1 when it offers none the hub speaks.
    static func protocolVersion(requestedBy head: HTTPRequestHead) -> ProtocolVersion {
        let offered = head.headers["sec-websocket-protocol"].flatMap { $0.split(separator: ",").map { String(String($0).trimmingSpaces()) } }
        return ProtocolVersion.negotiate(offered: offered)
    }

    /// The 101 response, selecting `version`'s subprotocol (none for v1).
    static func response(for head: HTTPRequestHead, version: ProtocolVersion = .v1) -> HTTPResponseHead {
        let key = head.headers["sec-websocket-key"].first ?? ""
        var headers = HTTPHeaders()
        headers.add(name: "Upgrade", value: "websocket")
        headers.add(name: "Connection", value: "Upgrade")
        headers.add(name: "Sec-WebSocket-Accept", value: Self.acceptValue(forKey: key))
        if let subprotocol = version.subprotocol {
            headers.add(name: "Sec-WebSocket-Protocol", value: subprotocol)
        }
        return HTTPResponseHead(version: .http1_1, status: .switchingProtocols, headers: headers)
    }
}

extension String {
    func trimmingSpaces() -> Substring {
        var view = Substring(self)
        while view.first == " " || view.first == "\t" { view.removeFirst() }
        while view.last == " " || view.last == "\t" { view.removeLast() }
        return view
    }
}

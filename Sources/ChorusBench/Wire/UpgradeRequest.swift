import NIOCore

/// The request that opens a subscriber connection: a WebSocket upgrade, or a GET of an event stream.
enum UpgradeRequest {
    static func make(endpoint: EndpointTemplate, topic: String, token: String?, allocator: ByteBufferAllocator) -> ByteBuffer {
        var request = "GET \(endpoint.target(topic: topic)) HTTP/1.1\r\nHost: \(endpoint.hostHeader)\r\n"
        switch endpoint.scheme {
        case .ws:
            // A fixed key: the accept value is not checked (the server is trusted), and it saves
            // random bytes and base64 per connection.
            request += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        case .http:
            request += "Accept: text/event-stream\r\nCache-Control: no-cache\r\n"
        }
        if let token {
            request += "Authorization: Bearer \(token)\r\n"
        }
        request += "\r\n"
        return allocator.buffer(string: request)
    }

    /// The status that means the connection is open: 101 for a WebSocket, 200 for a stream.
    static func expectedStatus(for endpoint: EndpointTemplate) -> Int {
        endpoint.scheme == .ws ? 101 : 200
    }
}

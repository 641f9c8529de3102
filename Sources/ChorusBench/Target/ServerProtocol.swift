import Foundation
import NIOCore

/// How a server takes subscriptions and frames what it delivers.
/// - `chorus`: a subscriber subscribes with a `subscribe` frame (or `?topic=` in its URL) and
///   waits for `subscribed`; deliveries are `message` frames whose `data` is the published JSON;
///   HTTP publishes are `{"topic": …, "data": …}` to `/api/publish`.
/// - `nchan`: the topic is the channel id in the URL; being connected is being subscribed;
///   deliveries are the raw published body; HTTP publishes POST the raw body to the channel URL.
public enum ServerProtocol: String, Codable, Sendable, CaseIterable {
    case chorus, nchan

    /// The HTTP body that publishes `payload` to `topic`.
    /// `encoding` applies to Chorus (a binary body, or base64 in JSON); Nchan takes the raw body.
    func publishBody(topic: String, encoding: PayloadEncoding = .json, payload: (inout ByteBuffer) -> Void, allocator: ByteBufferAllocator) -> ByteBuffer {
        var body = allocator.buffer(capacity: 256)
        switch self {
        case .chorus where encoding == .binary:
            payload(&body)
        case .chorus where encoding == .base64:
            var raw = allocator.buffer(capacity: 256)
            payload(&raw)
            body.writeStaticString(#"{"topic":""#)
            body.writeString(topic)
            body.writeStaticString(#"","data":""#)
            body.writeString(Data(raw.readableBytesView).base64EncodedString())
            body.writeStaticString(#""}"#)
        case .chorus:
            body.writeStaticString(#"{"topic":""#)
            body.writeString(topic)
            body.writeStaticString(#"","data":"#)
            payload(&body)
            body.writeStaticString("}")
        case .nchan:
            payload(&body)
        }
        return body
    }

    /// The frame a Chorus WebSocket subscriber sends to subscribe when its URL does not carry the topic.
    static func subscribeFrame(topic: String) -> ByteBuffer {
        ByteBuffer(string: #"{"type":"subscribe","topic":""# + topic + #""}"#)
    }
}

/// Credentials a run presents: a client token on subscriber connections, an API key on HTTP publishes.
public struct Credentials: Codable, Equatable, Sendable {
    public var token: String?
    public var apiKey: String?

    public init(token: String? = nil, apiKey: String? = nil) {
        self.token = token
        self.apiKey = apiKey
    }
}

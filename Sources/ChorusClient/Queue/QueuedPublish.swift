import Foundation

/// A publish waiting to be acknowledged: made while offline, or sent and not yet acknowledged.
public struct QueuedPublish: Codable, Sendable, Hashable {
    /// The `idempotency_key` it is sent with, every time: the hub delivers it once however
    /// often a reconnection resends it (within the hub's `idempotency_window`).
    public var key: String
    /// The topic.
    public var topic: String
    /// The event name.
    public var event: String
    /// The `data`, as JSON text; a binary publish's bytes in base64.
    public var data: String
    /// `base64` for a binary publish (sent as a binary frame); nil for JSON.
    public var encoding: String?

    /// A queued publish; `key` defaults to a fresh random one.
    public init(key: String = QueuedPublish.newKey(), topic: String, event: String, data: String) {
        self.key = key
        self.topic = topic
        self.event = event
        self.data = data
    }

    /// A binary publish of `bytes`, kept in base64 (the queue file is JSON).
    public init(key: String = QueuedPublish.newKey(), topic: String, event: String, bytes: some Sequence<UInt8>) {
        self.init(key: key, topic: topic, event: event, data: Data(bytes).base64EncodedString())
        self.encoding = "base64"
    }

    /// A random idempotency key (a UUID).
    public static func newKey() -> String {
        // UUID's text without Foundation: 122 random bits in the usual 8-4-4-4-12 layout.
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255) }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = bytes.map { byte in
            let text = String(byte, radix: 16)
            return text.count == 1 ? "0" + text : text
        }
        return [0..<4, 4..<6, 6..<8, 8..<10, 10..<16].map { hex[$0].joined() }.joined(separator: "-")
    }
}

/// The delivery headers of one push message (RFC 8030 §5.2–§5.4).
public struct PushOptions: Sendable, Equatable {
    /// How urgent the message is (`Urgency`): a push service may hold low ones back to save battery.
    public enum Urgency: String, Sendable, CaseIterable {
        /// Only on power and Wi-Fi (RFC 8030 §5.3).
        case veryLow = "very-low"
        /// On power, or on Wi-Fi.
        case low
        /// Unless the battery is low.
        case normal
        /// Even on a low battery.
        case high
    }

    /// Seconds the push service keeps the message while the browser is unreachable (`TTL`).
    public var ttl: Int
    /// How urgent (`Urgency`).
    public var urgency: Urgency
    /// A message with the same `Topic` replaces an undelivered earlier one (at most 32
    /// base64url characters, RFC 8030 §5.4).
    public var topic: String?

    /// Options; by default kept 24 hours, normal urgency, no topic.
    public init(ttl: Int = 86_400, urgency: Urgency = .normal, topic: String? = nil) {
        self.ttl = ttl
        self.urgency = urgency
        self.topic = topic
    }

    /// Whether `topic` may be a `Topic` header: 1 to 32 characters of the base64url alphabet.
    public static func isValidTopic(_ topic: String) -> Bool {
        (1...32).contains(topic.utf8.count)
            && topic.utf8.allSatisfy { byte in
                (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            }
    }

    /// The request headers these options make, with the body's encoding.
    public var headers: [(name: String, value: String)] {
        var headers = [
            ("TTL", String(self.ttl)), ("Urgency", self.urgency.rawValue),
            ("Content-Encoding", "aes128gcm"), ("Content-Type", "application/octet-stream"),
        ]
        if let topic = self.topic { headers.append(("Topic", topic)) }
        return headers
    }
}

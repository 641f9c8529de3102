public import ChorusCore

/// The Redis pub/sub channels of a cluster, all under one prefix (several clusters can share
/// a Redis): `<prefix>:t:<topic>` carries a topic's messages, `<prefix>:u:<user>` a user's
/// `direct` messages and disconnects (one channel, so they keep their order).
///
/// A topic is published to its own channel only, once. Wildcard interest subscribes to a
/// pattern over those channels (a namespace's, or every topic's), so a node holding a topic
/// both exactly and through a pattern receives each message once per matching subscription,
/// back to back: ``RepeatFilter`` drops the copies.
public struct RedisChannels: Sendable, Hashable {
    /// What every channel name starts with (`chorus`).
    public let prefix: String

    /// Channels under `prefix`.
    public init(prefix: String = "chorus") {
        self.prefix = prefix
    }

    /// A Redis subscription: a channel, or a glob-style pattern.
    public enum Subscription: Sendable, Hashable {
        /// `SUBSCRIBE` to one channel.
        case channel(String)
        /// `PSUBSCRIBE` to a pattern.
        case pattern(String)
    }

    /// The channel `target`'s messages are published to.
    public func channel(for target: BrokerMessage.Target) -> String {
        switch target {
        case .topic(let topic): self.topicChannel(topic.name)
        case .user(let user), .disconnect(let user, _, _): self.userChannel(user)
        }
    }

    /// The channel of user `name`'s `direct` messages and disconnects: every node with a
    /// connection of the user subscribes to it, so its subscriber count says where they are.
    public func userChannel(_ name: String) -> String {
        "\(self.prefix):u:\(name)"
    }

    /// The channel of topic `name`.
    public func topicChannel(_ name: String) -> String {
        "\(self.prefix):t:\(name)"
    }

    /// What a node subscribes to for `interest`.
    public func subscriptions(for interest: BrokerInterest) -> [Subscription] {
        switch interest {
        case .topic(let name): [.channel(self.topicChannel(name))]
        case .user(let user): [.channel(self.userChannel(user))]
        // A namespace ends at the topic's first `:` or `.`, or is the whole topic.
        case .namespace(let name): [.pattern("\(Self.escaped(self.prefix)):t:\(Self.escaped(name))[:.]*"), .channel(self.topicChannel(name))]
        case .everything: [.pattern("\(Self.escaped(self.prefix)):t:*")]
        }
    }

    /// `text` with the glob's special characters escaped.
    private static func escaped(_ text: String) -> String {
        var result = ""
        for character in text {
            if "*?[]\\".contains(character) { result.append("\\") }
            result.append(character)
        }
        return result
    }
}

/// Drops a message that repeats the one just before it: Redis writes the copies one PUBLISH
/// makes for a connection's matching subscriptions (a channel and patterns) back to back, so
/// comparing with the previous message is exact, at no cost per publish.
public struct RepeatFilter: Sendable {
    private var last: (origin: String, messageID: String)?

    /// A filter that has seen nothing.
    public init() {}

    /// Whether `message` from `origin` repeats the previous one; remembers it either way.
    public mutating func isRepeat(_ message: BrokerMessage, origin: String) -> Bool {
        defer { self.last = (origin, message.envelope.messageID) }
        guard let last else { return false }
        return last.origin == origin && last.messageID == message.envelope.messageID
    }
}

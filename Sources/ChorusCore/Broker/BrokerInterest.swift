/// What a node's clients need from the broker: the messages a cluster broker must bring to this
/// node. The hub tells its broker when an interest starts (first local subscriber, over all
/// event loops) and ends (the last one gone), so a node subscribes across the network only to
/// what it serves.
public enum BrokerInterest: Hashable, Sendable, CustomStringConvertible {
    /// One topic: its exact subscribers.
    case topic(String)
    /// Every topic of a namespace: wildcard patterns within it (`chat:*`, `chat:room.**`).
    case namespace(String)
    /// Every topic: patterns that span namespaces (`**`, `*.typing`).
    case everything
    /// A user's connections: `direct` messages and disconnects.
    case user(String)

    /// What a subscription to `pattern` needs.
    public init(_ pattern: TopicPattern) {
        if let topic = pattern.exactTopic {
            self = .topic(topic.name)
        } else if let namespace = pattern.namespace {
            self = .namespace(String(namespace))
        } else {
            self = .everything
        }
    }

    /// Whether a node with this interest needs `message`.
    public func covers(_ target: BrokerMessage.Target) -> Bool {
        switch (self, target) {
        case (.everything, .topic): true
        case (.topic(let name), .topic(let topic)): name == topic.name
        case (.namespace(let name), .topic(let topic)): name == topic.namespace
        case (.user(let name), .user(let user)), (.user(let name), .disconnect(let user, _, _)): name == user
        default: false
        }
    }

    /// `topic:chat:a`, `namespace:chat`, `everything`, `user:ann`: for logs and channel names.
    public var description: String {
        switch self {
        case .topic(let name): "topic:\(name)"
        case .namespace(let name): "namespace:\(name)"
        case .everything: "everything"
        case .user(let name): "user:\(name)"
        }
    }
}

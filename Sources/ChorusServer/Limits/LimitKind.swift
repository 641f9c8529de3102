/// The limits the hub enforces, as named in metrics (`chorus_limit_rejections_total{limit=…}`)
/// and in docs/security.md.
public enum LimitKind: String, Sendable, CaseIterable {
    case connectionsPerIP = "connections_per_ip"
    case connectionsPerUser = "connections_per_user"
    case connectRatePerIP = "connect_rate_per_ip"
    case subscriptionsPerConnection = "subscriptions_per_connection"
    case publishRatePerConnection = "publish_rate_per_connection"
    case subscribeRatePerConnection = "subscribe_rate_per_connection"
    case publishRatePerUser = "publish_rate_per_user"
    case broadcastTopics = "broadcast_topics"
    case apiRatePerKey = "api_rate_per_key"
    case requestTimeout = "request_timeout"
}

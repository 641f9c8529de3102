/// The limits the hub enforces, as named in metrics (`chorus_limit_rejections_total{limit=…}`)
/// and in docs/security.md.
public enum LimitKind: String, Sendable, CaseIterable {
    /// `max_connections_per_ip`.
    case connectionsPerIP = "connections_per_ip"
    /// `max_connections_per_user`.
    case connectionsPerUser = "connections_per_user"
    /// `max_connect_rate_per_ip`.
    case connectRatePerIP = "connect_rate_per_ip"
    /// `max_subscriptions_per_connection`.
    case subscriptionsPerConnection = "subscriptions_per_connection"
    /// `max_publish_rate_per_connection`.
    case publishRatePerConnection = "publish_rate_per_connection"
    /// `max_subscribe_rate_per_connection`.
    case subscribeRatePerConnection = "subscribe_rate_per_connection"
    /// `max_publish_rate_per_connection`, counted for all of one user's connections together.
    case publishRatePerUser = "publish_rate_per_user"
    /// `max_broadcast_topics`.
    case broadcastTopics = "broadcast_topics"
    /// `max_api_rate_per_key`.
    case apiRatePerKey = "api_rate_per_key"
    /// `request_timeout`.
    case requestTimeout = "request_timeout"
}

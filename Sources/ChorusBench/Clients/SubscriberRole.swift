/// What one subscriber connection is for.
struct SubscriberRole {
    var topicIndex: Int
    var topic: String
    /// Subscribe to `topic` (Chorus: by frame unless the URL carries it; Nchan: always, by URL).
    var subscribes: Bool
    /// Parse every delivery for its stamp (latency, loss, order); otherwise only count frames.
    var probe: Bool
    /// Read only when the loop's drain tick asks (counting subscribers when a drain interval is set).
    var lazy: Bool
    /// Close as soon as the subscription is confirmed (churn).
    var closeWhenSubscribed: Bool
    /// What it joins (Chorus): a topic, a presence, a sync collection.
    var subscription: Subscription = .topic
    /// A presence member's number, stamped into its `meta` when it joins (nil: `meta` is `{}`).
    var joinStampSource: Int? = nil
    /// The `limit` of a presence join (nil: the whole list in its `presence_state`).
    var presenceStateLimit: Int? = nil
}

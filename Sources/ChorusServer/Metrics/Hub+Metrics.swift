extension Hub {
    /// Sets the gauges that are counted when metrics are read rather than as things change
    /// (`chorus_topics`, as each event loop has its own trie; `chorus_idempotency_keys`). The
    /// `/metrics` route calls it on every scrape; an application that exports the hub's metrics
    /// its own way calls it before each export.
    public func updateCountedGauges() async throws {
        self.metrics.setTopicCount(try await self.topicCount())
        self.metrics.setIdempotencyKeyCount(self.idempotency.count)
    }
}

/// SQL both event stores run as it is (SQLite and PostgreSQL agree on it), kept once.
package enum EventStoreSQL {
    /// Every consumer with a cursor, pending deliveries or dead letters: name, cursor, pending
    /// count, oldest pending sequence, dead letters (``ConsumerDeliveryState``).
    package static let consumerStates = """
        WITH names AS (SELECT consumer FROM chorus_event_cursors UNION SELECT consumer FROM chorus_event_pending
                       UNION SELECT consumer FROM chorus_event_dead)
        SELECT n.consumer, coalesce((SELECT fanned_out FROM chorus_event_cursors c WHERE c.consumer = n.consumer), 0),
            (SELECT count(*) FROM chorus_event_pending p WHERE p.consumer = n.consumer),
            (SELECT min(seq) FROM chorus_event_pending p WHERE p.consumer = n.consumer),
            (SELECT count(*) FROM chorus_event_dead d WHERE d.consumer = n.consumer)
        FROM names n ORDER BY n.consumer
        """
}

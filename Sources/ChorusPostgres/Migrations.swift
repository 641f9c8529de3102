/// The shared store's schema, one migration after another. This list is the registry: a later
/// feature (event bus, sync collections, push subscriptions, …) appends its migration with the
/// next version, and never edits one that has shipped (docs/deployment.md, "PostgreSQL").
extension Migration {
    /// Every migration of the shared store, in version order.
    public static let all: [Migration] = [
        // The cluster's identity, made once by whichever node migrates first (`/api/nodes` can
        // show it): one row, enforced by a primary key that can only be true.
        Migration(version: 1, name: "cluster", statements: [
            """
            CREATE TABLE chorus_cluster (
                singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                id text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            "INSERT INTO chorus_cluster (id) VALUES (gen_random_uuid()::text)",
        ]),
        // The event bus's store (PostgresEventStore, docs/event-bus.md). Appends take the
        // counter row's lock, so sequences follow commit order: fan-out reads "after the
        // cursor" and would skip a sequence a slower transaction commits later.
        Migration(version: 2, name: "event_bus", statements: [
            """
            CREATE TABLE chorus_event_counter (
                singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                last_seq bigint NOT NULL
            )
            """,
            "INSERT INTO chorus_event_counter (last_seq) VALUES (0)",
            """
            CREATE TABLE chorus_events (
                seq bigint PRIMARY KEY, event_id text NOT NULL, type text NOT NULL, data bytea NOT NULL,
                ts bigint NOT NULL, correlation_id text, partition_key text, headers text, size bigint NOT NULL
            )
            """,
            "CREATE INDEX chorus_events_type ON chorus_events (type, seq)",
            "CREATE INDEX chorus_events_ts ON chorus_events (ts)",
            """
            CREATE TABLE chorus_event_ids (
                event_id text PRIMARY KEY, seq bigint NOT NULL, ts bigint NOT NULL, seen_at bigint NOT NULL
            )
            """,
            "CREATE INDEX chorus_event_ids_seen ON chorus_event_ids (seen_at)",
            "CREATE TABLE chorus_event_cursors (consumer text PRIMARY KEY, fanned_out bigint NOT NULL)",
            """
            CREATE TABLE chorus_event_pending (
                consumer text NOT NULL, seq bigint NOT NULL, partition_key text, part bigint NOT NULL,
                attempts bigint NOT NULL DEFAULT 0, next_attempt_at bigint NOT NULL, last_error text,
                PRIMARY KEY (consumer, seq)
            )
            """,
            "CREATE INDEX chorus_event_pending_seq ON chorus_event_pending (seq)",
            """
            CREATE TABLE chorus_event_dead (
                id bigserial PRIMARY KEY, consumer text NOT NULL, seq bigint NOT NULL,
                partition_key text, part bigint NOT NULL, failed_at bigint NOT NULL
            )
            """,
            "CREATE INDEX chorus_event_dead_consumer ON chorus_event_dead (consumer, id)",
            "CREATE INDEX chorus_event_dead_seq ON chorus_event_dead (seq)",
            """
            CREATE TABLE chorus_event_attempts (
                id bigserial PRIMARY KEY, consumer text NOT NULL, seq bigint NOT NULL, number bigint NOT NULL,
                at bigint NOT NULL, status bigint, error text NOT NULL, duration bigint NOT NULL
            )
            """,
            "CREATE INDEX chorus_event_attempts_delivery ON chorus_event_attempts (consumer, seq, id)",
            """
            CREATE TABLE chorus_event_leases (
                consumer text NOT NULL, part bigint NOT NULL, node text, expires_at bigint NOT NULL DEFAULT 0,
                PRIMARY KEY (consumer, part)
            )
            """,
            """
            CREATE TABLE chorus_event_definitions (
                kind text NOT NULL, name text NOT NULL, body text NOT NULL,
                created_at bigint NOT NULL, updated_at bigint NOT NULL, PRIMARY KEY (kind, name)
            )
            """,
        ]),
        // Sync collections (PostgresSyncStore, docs/sync.md). A mutation locks its collection's
        // row, so versions follow commit order across nodes, and the change is announced on
        // the `chorus_sync` channel by NOTIFY, delivered at commit in that same order.
        Migration(version: 3, name: "sync", statements: [
            """
            CREATE TABLE chorus_sync_collections (
                collection text PRIMARY KEY, version bigint NOT NULL, compacted_through bigint NOT NULL, records bigint NOT NULL
            )
            """,
            """
            CREATE TABLE chorus_sync_records (
                collection text NOT NULL, id text NOT NULL, version bigint NOT NULL, data bytea NOT NULL,
                updated_at bigint NOT NULL, updated_by text, PRIMARY KEY (collection, id)
            )
            """,
            """
            CREATE TABLE chorus_sync_changes (
                collection text NOT NULL, version bigint NOT NULL, op text NOT NULL, record_id text NOT NULL,
                data bytea, mutation_id text, by text, at bigint NOT NULL, PRIMARY KEY (collection, version)
            )
            """,
            """
            CREATE TABLE chorus_sync_mutations (
                collection text NOT NULL, mutation_id text NOT NULL, record_id text NOT NULL, version bigint NOT NULL,
                PRIMARY KEY (collection, mutation_id)
            )
            """,
            "CREATE INDEX chorus_sync_mutations_version ON chorus_sync_mutations (collection, version)",
        ]),
        // The messages resource (PostgresChatMessageStore, docs/event-bus.md "The messages
        // resource"). `published` is the outbox: the version whose event is on the bus.
        Migration(version: 4, name: "messages", statements: [
            """
            CREATE TABLE chorus_messages (
                seq bigserial PRIMARY KEY, id text NOT NULL UNIQUE, sender text NOT NULL, channel_id text, recipient_id text,
                text text NOT NULL, metadata text, created_at bigint NOT NULL, updated_at bigint NOT NULL,
                version bigint NOT NULL, deleted boolean NOT NULL DEFAULT false, published bigint NOT NULL DEFAULT 0
            )
            """,
            "CREATE INDEX chorus_messages_channel ON chorus_messages (channel_id, seq)",
            "CREATE INDEX chorus_messages_sender ON chorus_messages (sender, seq)",
            "CREATE INDEX chorus_messages_recipient ON chorus_messages (recipient_id, seq)",
            "CREATE INDEX chorus_messages_unpublished ON chorus_messages (seq) WHERE published < version",
        ]),
        // Web Push subscriptions (PostgresPushSubscriptionStore, docs/pwa.md "Web Push"): the
        // same two tables as `push.sqlite`, so a subscription made on one node is used by all.
        Migration(version: 5, name: "push", statements: [
            """
            CREATE TABLE chorus_push_subscriptions (
                id text PRIMARY KEY, user_name text NOT NULL, endpoint text NOT NULL,
                p256dh text NOT NULL, auth text NOT NULL, created_at bigint NOT NULL
            )
            """,
            "CREATE INDEX chorus_push_subscriptions_user ON chorus_push_subscriptions (user_name, created_at)",
            """
            CREATE TABLE chorus_push_topics (
                topic text NOT NULL, id text NOT NULL REFERENCES chorus_push_subscriptions (id) ON DELETE CASCADE,
                position bigint NOT NULL, PRIMARY KEY (topic, id)
            )
            """,
            "CREATE INDEX chorus_push_topics_id ON chorus_push_topics (id)",
        ]),
        // Each event type's count, bytes, newest sequence and timestamp, kept as the log changes
        // (PostgresEventStore.stats(): aggregating the log per call took 0.3 s per million
        // events). Triggers keep it, so a node of an older version appending or trimming during
        // a rolling deploy keeps it right too; the log already there is counted under a lock
        // that holds appends back until this commits.
        Migration(version: 6, name: "event_type_stats", statements: [
            """
            CREATE TABLE chorus_event_type_stats (
                type text PRIMARY KEY, count bigint NOT NULL, bytes bigint NOT NULL, newest_seq bigint NOT NULL, newest_ts bigint NOT NULL
            )
            """,
            """
            CREATE FUNCTION chorus_event_type_stats_add() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO chorus_event_type_stats (type, count, bytes, newest_seq, newest_ts)
                SELECT type, count(*), sum(size), max(seq), max(ts) FROM added GROUP BY type ORDER BY type
                ON CONFLICT (type) DO UPDATE SET
                    count = chorus_event_type_stats.count + excluded.count, bytes = chorus_event_type_stats.bytes + excluded.bytes,
                    newest_seq = greatest(chorus_event_type_stats.newest_seq, excluded.newest_seq),
                    newest_ts = greatest(chorus_event_type_stats.newest_ts, excluded.newest_ts);
                RETURN NULL;
            END
            $$
            """,
            """
            CREATE FUNCTION chorus_event_type_stats_subtract() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                -- The counter's lock first, as appends take it before their type rows: a delete
                -- locking type rows in its own order could otherwise deadlock with an append.
                PERFORM 1 FROM chorus_event_counter FOR UPDATE;
                UPDATE chorus_event_type_stats SET count = chorus_event_type_stats.count - gone.n, bytes = chorus_event_type_stats.bytes - gone.total
                FROM (SELECT type, count(*) AS n, sum(size) AS total FROM removed GROUP BY type) AS gone
                WHERE chorus_event_type_stats.type = gone.type;
                DELETE FROM chorus_event_type_stats WHERE count <= 0;
                RETURN NULL;
            END
            $$
            """,
            "LOCK TABLE chorus_events IN SHARE MODE",
            "INSERT INTO chorus_event_type_stats SELECT type, count(*), sum(size), max(seq), max(ts) FROM chorus_events GROUP BY type",
            """
            CREATE TRIGGER chorus_event_type_stats_add AFTER INSERT ON chorus_events
            REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION chorus_event_type_stats_add()
            """,
            """
            CREATE TRIGGER chorus_event_type_stats_subtract AFTER DELETE ON chorus_events
            REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION chorus_event_type_stats_subtract()
            """,
        ]),
    ]
}

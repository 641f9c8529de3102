-- The PostgreSQL event store's append, as pgbench runs it: one transaction of ten events, each
-- a claim of its id and an insert (what PostgresEventStore.append sent until it wrote a batch in
-- one statement), under the counter's lock: the per-statement cost of migration 6's triggers.
-- Against a database migrated by chorus (postgres_url); see docs/performance.md.
--   pgbench -n -c 16 -j 2 -T 10 -f bench/pg-append.sql DATABASE
\set r random(1, 2000000000)
BEGIN;
SELECT last_seq FROM chorus_event_counter FOR UPDATE;
UPDATE chorus_event_counter SET last_seq = last_seq + 1 RETURNING last_seq AS s \gset
WITH claimed AS (INSERT INTO chorus_event_ids (event_id, seq, ts, seen_at) VALUES ('e' || :s, :s, 1, 1) ON CONFLICT (event_id) DO NOTHING RETURNING seq) INSERT INTO chorus_events (seq, event_id, type, data, ts, size) SELECT seq, 'e' || :s, 'bench.t' || ((:r + 0) % 16), '\x7b7d'::bytea, 1, 100 FROM claimed;
UPDATE chorus_event_counter SET last_seq = last_seq + 1 RETURNING last_seq AS s \gset
WITH claimed AS (INSERT INTO chorus_event_ids (event_id, seq, ts, seen_at) VALUES ('e' || :s, :s, 1, 1) ON CONFLICT (event_id) DO NOTHING RETURNING seq) INSERT INTO chorus_events (seq, event_id, type, data, ts, size) SELECT seq, 'e' || :s, 'bench.t' || ((:r + 1) % 16), '\x7b7d'::bytea, 1, 100 FROM claimed;
UPDATE chorus_event_counter SET last_seq = last_seq + 1 RETURNING last_seq AS s \gset
WITH claimed AS (INSERT INTO chorus_event_ids (event_id, seq, ts, seen_at) VALUES ('e' || :s, :s, 1, 1) ON CONFLICT (event_id) DO NOTHING RETURNING seq) INSERT INTO chorus_events (seq, event_id, type, data, ts, size) SELECT seq, 'e' || :s, 'bench.t' || ((:r + 2) % 16), '\x7b7d'::bytea, 1, 100 FROM claimed;
UPDATE chorus_event_counter SET last_seq = last_seq + 1 RETURNING last_seq AS s \gset
WITH claimed AS (INSERT INTO chorus_event_ids (event_id, seq, ts, seen_at) VALUES ('e' || :s, :s, 1, 1) ON CONFLICT (event_id) DO NOTHING RETURNING seq) INSERT INTO chorus_events (seq, event_id, type, data, ts, size) SELECT seq, 'e' || :s, 'bench.t' || ((:r + 3) % 16), '\x7b7d'::bytea, 1, 100 FROM claimed;
UPDATE chorus_event_counter SET last_seq = last_seq + 1 RETURNING last_seq AS s \gset
WITH claimed AS (INSERT INTO chorus_event_ids (event_id, seq, ts, seen_at) VALUES ('e' || :s, :s, 1, 1) ON CONFLICT (event_id) DO NOTHING RETURNING seq) INSERT INTO chorus_events (seq, event_id, type, data, ts, size) SELECT seq, 'e' || :s, 'bench.t' || ((:r + 4) % 16), '\x7b7d'::bytea, 1, 100 FROM claimed;
UPDATE chorus_event_counter SET last_seq = last_seq + 1 RETURNING last_seq AS s \gset
WITH claimed AS (INSERT INTO chorus_event_ids (event_id, seq, ts, seen_at) VALUES ('e' || :s, :s, 1, 1) ON CONFLICT (event_id) DO NOTHING RETURNING seq) INSERT INTO chorus_events (seq, event_id, type, data, ts, size) SELECT seq, 'e' || :s, 'bench.t' || ((:r + 5) % 16), '\x7b7d'::bytea, 1, 100 FROM claimed;
UPDATE chorus_event_counter SET last_seq = last_seq + 1 RETURNING last_seq AS s \gset
WITH claimed AS (INSERT INTO chorus_event_ids (event_id, seq, ts, seen_at) VALUES ('e' || :s, :s, 1, 1) ON CONFLICT (event_id) DO NOTHING RETURNING seq) INSERT INTO chorus_events (seq, event_id, type, data, ts, size) SELECT seq, 'e' || :s, 'bench.t' || ((:r + 6) % 16), '\x7b7d'::bytea, 1, 100 FROM claimed;
UPDATE chorus_event_counter SET last_seq = last_seq + 1 RETURNING last_seq AS s \gset
WITH claimed AS (INSERT INTO chorus_event_ids (event_id, seq, ts, seen_at) VALUES ('e' || :s, :s, 1, 1) ON CONFLICT (event_id) DO NOTHING RETURNING seq) INSERT INTO chorus_events (seq, event_id, type, data, ts, size) SELECT seq, 'e' || :s, 'bench.t' || ((:r + 7) % 16), '\x7b7d'::bytea, 1, 100 FROM claimed;
UPDATE chorus_event_counter SET last_seq = last_seq + 1 RETURNING last_seq AS s \gset
WITH claimed AS (INSERT INTO chorus_event_ids (event_id, seq, ts, seen_at) VALUES ('e' || :s, :s, 1, 1) ON CONFLICT (event_id) DO NOTHING RETURNING seq) INSERT INTO chorus_events (seq, event_id, type, data, ts, size) SELECT seq, 'e' || :s, 'bench.t' || ((:r + 8) % 16), '\x7b7d'::bytea, 1, 100 FROM claimed;
UPDATE chorus_event_counter SET last_seq = last_seq + 1 RETURNING last_seq AS s \gset
WITH claimed AS (INSERT INTO chorus_event_ids (event_id, seq, ts, seen_at) VALUES ('e' || :s, :s, 1, 1) ON CONFLICT (event_id) DO NOTHING RETURNING seq) INSERT INTO chorus_events (seq, event_id, type, data, ts, size) SELECT seq, 'e' || :s, 'bench.t' || ((:r + 9) % 16), '\x7b7d'::bytea, 1, 100 FROM claimed;
COMMIT;

"""Sync collections across a cluster (docs/sync.md, "In a cluster"): three hubs on one Redis and
one PostgreSQL, writers on different nodes converging to the same records and versions
everywhere, a subscribe on one node racing writes on another, resume on B after 1,000 changes
written on A, a record too large to announce and a node's lost LISTEN connection both read
back from the store, `kill -9` of a node losing no acknowledged mutation, and a node restarted
mid-stream."""
from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from conftest import Hub, RestartableHub, bearer, wait_for
from test_sync import API_KEY, NAMESPACES, Client, assert_contiguous, collection, hub_args, resume_after_missing_1000_changes, state_of


def node_args(redis, postgres, database: str, name: str) -> list[str]:
    return hub_args(NAMESPACES, "--broker", "redis", "--redis-url", redis.url, "--postgres-url", postgres.database_url(database),
                    "--node-id", name)


def is_ready(hub: Hub) -> bool:
    try:
        return httpx.get(f"{hub.url}/ready", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


async def start_cluster(hub_factory, redis, postgres, database: str, count: int = 3) -> list[Hub]:
    postgres.create_database(database)
    nodes = [hub_factory(node_args(redis, postgres, database, f"n{i}")) for i in range(count)]
    for node in nodes:
        await wait_for(lambda node=node: is_ready(node), timeout=30, what="every node ready")
    await wait_for(lambda: listeners(postgres, database) == count, timeout=30, what="every node listening for sync changes")
    return nodes


def listeners(postgres, database: str) -> int:
    return int(postgres.psql(f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' AND query ILIKE 'LISTEN%'"))


async def converge(readers: list[tuple[Client, dict]], final: dict) -> None:
    """Every reader got each version after its snapshot once, in order, and holds `final`'s records."""
    for reader, snapshot in readers:
        await reader.wait_version(final["version"]) if snapshot["version"] < final["version"] else None
        assert_contiguous(snapshot["version"], reader.changes, final["version"])
        assert state_of(snapshot, reader.changes) == {r["id"]: r["data"] for r in final["records"]}


async def test_writers_on_three_nodes_converge_to_the_same_records_and_version_everywhere(hub_factory, redis_server, postgres_server):
    nodes = await start_cluster(hub_factory, redis_server, postgres_server, "converge")
    name = collection()
    readers = []
    for node in nodes:
        reader = await Client.connect(node, "reader")
        readers.append((reader, await reader.subscribe(name)))
    writers = [await Client.connect(nodes[i % 3], f"w{i}") for i in range(6)]
    records = [f"rec{i}" for i in range(5)]
    for record in records:
        await writers[0].mutate(name, "insert", record, {"by": "seed"})
    acked: list[int] = []

    async def write(index: int, client: Client):
        for n in range(40):
            record = records[(index + n) % len(records)]
            reply = await client.mutate(name, "update" if n % 7 else "delete", record, {"writer": index, "n": n} if n % 7 else None)
            if reply["type"] == "error" and reply["code"] == "not_found":
                reply = await client.mutate(name, "insert", record, {"writer": index, "n": n})
            if reply["type"] == "ack":
                acked.append(reply["version"])

    await asyncio.gather(*(write(i, w) for i, w in enumerate(writers)))
    # Distinct versions across nodes: no two writers were given the same one.
    assert len(acked) == len(set(acked)), "a version was given twice"
    checks = [await Client.connect(node, "check") for node in nodes]
    finals = [await check.subscribe(name) for check in checks]
    assert len({f["version"] for f in finals}) == 1 and finals[0]["records"] == finals[1]["records"] == finals[2]["records"]
    assert finals[0]["version"] == len(records) + len(acked)
    await converge(readers, finals[0])
    # The HTTP API of every node reads the same.
    for node in nodes:
        r = httpx.get(f"{node.url}/api/collections/{name}/records", headers=bearer(API_KEY), timeout=5)
        assert r.status_code == 200 and r.json()["version"] == finals[0]["version"], r.text
    for client, _ in readers:
        await client.close()
    for client in writers + checks:
        await client.close()


async def test_a_subscribe_on_b_racing_writes_on_a_loses_and_doubles_nothing(hub_factory, redis_server, postgres_server):
    a, b, c = await start_cluster(hub_factory, redis_server, postgres_server, "race")
    name = collection()
    writer = await Client.connect(a, "w")
    total = 400

    async def burst():
        for start in range(0, total, 20):
            acks = await asyncio.gather(*(writer.mutate(name, "insert", f"r{n}", {"n": n}) for n in range(start, start + 20)))
            assert all(ack["type"] == "ack" for ack in acks), acks

    async def late_subscriber(node: Hub, delay: float):
        await asyncio.sleep(delay)
        client = await Client.connect(node, "s")
        snapshot = await client.subscribe(name)
        await client.wait_version(total) if snapshot["version"] < total else None
        return client, snapshot

    results = await asyncio.gather(burst(), *(late_subscriber((b, c)[d % 2], d / 25) for d in range(10)))
    seen = set()
    for client, snapshot in results[1:]:
        seen.add(snapshot["version"])
        assert_contiguous(snapshot["version"], client.changes, total)
        assert state_of(snapshot, client.changes) == {f"r{n}": {"n": n} for n in range(total)}
        await client.close()
    assert len(seen) > 1, f"every subscriber saw the same snapshot version {seen}: no race was exercised"
    await writer.close()


async def test_resume_on_b_after_missing_1000_changes_written_on_a_gets_the_changes(hub_factory, redis_server, postgres_server):
    a, b, _ = await start_cluster(hub_factory, redis_server, postgres_server, "resume")
    await resume_after_missing_1000_changes(a, b)


async def test_a_record_too_large_to_announce_reaches_the_other_node_from_the_store(hub_factory, redis_server, postgres_server):
    a, b = await start_cluster(hub_factory, redis_server, postgres_server, "large", count=2)
    name = collection()
    writer = await Client.connect(a, "w")
    reader = await Client.connect(b, "r")
    at = (await reader.subscribe(name))["version"]
    # Over PostgreSQL's 8,000-byte notification payload: announced by version alone.
    big = {"text": "x" * 9_000}
    acks = [await writer.mutate(name, "insert", "big", big), await writer.mutate(name, "insert", "small", {"n": 1})]
    assert [ack["type"] for ack in acks] == ["ack", "ack"], acks
    await reader.wait_version(at + 2)
    assert [(c["version"], c["record_id"]) for c in reader.changes] == [(at + 1, "big"), (at + 2, "small")]
    assert reader.changes[0]["data"] == big
    await writer.close()
    await reader.close()


async def test_a_node_that_lost_its_listen_connection_reads_what_it_missed_from_the_store(hub_factory, redis_server, postgres_server):
    a, b = await start_cluster(hub_factory, redis_server, postgres_server, "gap", count=2)
    name = collection()
    writer = await Client.connect(a, "w")
    reader = await Client.connect(b, "r")
    snapshot = await reader.subscribe(name)
    total = 300

    async def burst():
        for n in range(total):
            assert (await writer.mutate(name, "insert", f"r{n}", {"n": n}))["type"] == "ack"

    async def cut():
        # B's LISTEN connection is terminated twice mid-burst: announcements are lost meanwhile.
        for _ in range(2):
            await asyncio.sleep(0.3)
            postgres_server.psql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'gap' AND query ILIKE 'LISTEN%'")

    await asyncio.gather(burst(), cut())
    await reader.wait_version(total)
    assert "sync changes from other nodes are not heard" in b.stderr, "the LISTEN connection was never cut"
    assert_contiguous(snapshot["version"], reader.changes, total)
    assert state_of(snapshot, reader.changes) == {f"r{n}": {"n": n} for n in range(total)}
    await writer.close()
    await reader.close()


async def test_kill_9_of_a_node_loses_no_acknowledged_mutation(hub_factory, redis_server, postgres_server, tmp_path):
    postgres_server.create_database("kill")
    a = RestartableHub(node_args(redis_server, postgres_server, "kill", "n0"), cwd=tmp_path)
    try:
        first = a.start()
        b = hub_factory(node_args(redis_server, postgres_server, "kill", "n1"))
        for node in (first, b):
            await wait_for(lambda node=node: is_ready(node), timeout=30, what="every node ready")
        await wait_for(lambda: listeners(postgres_server, "kill") == 2, timeout=30, what="both nodes listening")
        name = collection()
        watcher = await Client.connect(b, "watch")
        start = await watcher.subscribe(name)
        writer = await Client.connect(first)
        acked: dict[str, int] = {}

        async def write(w: int):
            for n in range(200):
                ack = await writer.mutate(name, "insert", f"w{w}-{n}", {"n": n})
                acked[ack["record_id"]] = ack["version"]

        tasks = [asyncio.create_task(write(w)) for w in range(4)]
        await wait_for(lambda: len(acked) >= 50, timeout=20, what="50 acknowledged mutations")
        a.kill9()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Every acknowledged mutation is in B's snapshot, and B's subscriber got each version once.
        check = await Client.connect(b, "check")
        final = await check.subscribe(name)
        stored = {record["id"]: record["version"] for record in final["records"]}
        missing = {k: v for k, v in acked.items() if stored.get(k) != v}
        assert not missing, f"{len(missing)} acknowledged mutations lost: {list(missing.items())[:5]}"
        await converge([(watcher, start)], final)
        # Writes go on through B, from the version reached.
        ack = await check.mutate(name, "insert", data={})
        assert ack["version"] == final["version"] + 1
        await watcher.wait_version(ack["version"])
        for client in (watcher, check):
            await client.close()
    finally:
        a.close()


async def test_a_node_restarted_mid_stream_resumes_its_subscribers_from_the_store(hub_factory, redis_server, postgres_server, tmp_path):
    postgres_server.create_database("restart")
    b = RestartableHub(node_args(redis_server, postgres_server, "restart", "n1"), cwd=tmp_path)
    try:
        a = hub_factory(node_args(redis_server, postgres_server, "restart", "n0"))
        node = b.start()
        for hub in (a, node):
            await wait_for(lambda hub=hub: is_ready(hub), timeout=30, what="every node ready")
        name = collection()
        writer = await Client.connect(a, "w")
        reader = await Client.connect(node, "r")
        snapshot = await reader.subscribe(name)
        total = 300
        done = asyncio.Event()

        async def burst():
            for n in range(total):
                assert (await writer.mutate(name, "insert", f"r{n}", {"n": n}))["type"] == "ack"
            done.set()

        async def restart():
            await asyncio.sleep(0.4)
            b.stop()
            restarted = b.start()
            await wait_for(lambda: is_ready(restarted), timeout=30, what="B ready again")
            return restarted

        burst_task = asyncio.create_task(burst())
        restarted = await restart()
        # The restart ran without yielding, so frames B sent before it stopped may still wait in
        # the reader's socket buffer: let its read loop drain them and end (B closed the socket)
        # before taking the last version it has, or that version is read short and comes twice.
        await asyncio.wait_for(reader.reader, 10)
        # B's client reconnects and resumes from the last version it has.
        have = reader.changes[-1]["version"] if reader.changes else snapshot["version"]
        assert not burst_task.done(), "the burst ended before the restart: nothing was mid-stream"
        again = await Client.connect(restarted, "r")
        resumed = await again.subscribe(name, since=have)
        assert resumed["type"] == "sync_changes", resumed["type"]
        await burst_task
        await again.wait_version(total) if resumed["version"] < total else None
        changes = reader.changes + resumed["changes"] + again.changes
        assert_contiguous(snapshot["version"], changes, total)
        assert state_of(snapshot, changes) == {f"r{n}": {"n": n} for n in range(total)}
        await writer.close()
        await again.close()
    finally:
        b.close()

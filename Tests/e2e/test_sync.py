"""Sync collections on real hubs (docs/sync.md): snapshot and live changes, versions,
conflicts, retried mutation ids, concurrent writers converging, resume after 1,000 missed
changes, a subscribe racing a burst of writes, `kill -9` losing no acknowledged mutation,
limits, authorization and bad input."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid

import pytest
import websockets

from conftest import Hub, bearer, hs256, recv_frame, ws_connect

SECRET = "sync-test-secret-of-32-bytes-at-least!"
API_KEY = "sync-test-key"
NAMESPACES = {
    "tasks": {"sync": True},
    "small": {"sync": True, "sync_max_records": 2, "sync_max_record_size": 64, "sync_changes_kept": 5},
    "ro": {"sync": True, "publish": "server"},
    "plain": {},
}


def hub_args(namespaces=NAMESPACES, *extra: str) -> list[str]:
    return ["--jwt-secret", SECRET, "--api-key", API_KEY, "--namespaces", json.dumps(namespaces), *extra]


@pytest.fixture(scope="module")
def hub():
    h = Hub(hub_args()).start()
    yield h
    h.stop()


def collection() -> str:
    return f"tasks:{uuid.uuid4().hex[:8]}"


class Client:
    """A connection whose frames a reader task sorts: replies by `id`, `sync_change` frames in
    the order they came."""

    _ids = itertools.count(1)

    def __init__(self, ws):
        self.ws = ws
        self.replies: dict[object, asyncio.Future] = {}
        self.changes: list[dict] = []
        self.arrived = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, hub: Hub, user: str = "alice", **claims) -> "Client":
        ws = await ws_connect(hub.ws(), headers=bearer(hs256(SECRET, user, **claims)))
        hello = await recv_frame(ws)
        assert hello["type"] == "auth_success", hello
        return cls(ws)

    async def _read(self):
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                if frame.get("type") == "sync_change":
                    self.changes.append(frame)
                    self.arrived.set()
                elif "id" in frame and frame["id"] in self.replies:
                    self.replies.pop(frame["id"]).set_result(frame)
        except websockets.ConnectionClosed:
            pass   # the hub was killed: the requests still waiting time out

    async def request(self, frame: dict, timeout: float = 10.0) -> dict:
        frame = {**frame, "id": next(self._ids)}
        future = asyncio.get_running_loop().create_future()
        self.replies[frame["id"]] = future
        await self.ws.send(json.dumps(frame))
        return await asyncio.wait_for(future, timeout)

    async def subscribe(self, name: str, since: int | None = None) -> dict:
        frame = {"type": "sync_subscribe", "collection": name}
        if since is not None:
            frame["since"] = since
        return await self.request(frame)

    async def mutate(self, name: str, op: str, record_id: str | None = None, data=None, base_version: int | None = None,
                     mutation_id: str | None = None) -> dict:
        frame = {"type": "sync_mutate", "collection": name, "op": op, "mutation_id": mutation_id or uuid.uuid4().hex}
        if record_id is not None:
            frame["record_id"] = record_id
        if data is not None:
            frame["data"] = data
        if base_version is not None:
            frame["base_version"] = base_version
        return await self.request(frame)

    async def wait_version(self, version: int, timeout: float = 20.0) -> None:
        async def reached():
            while not self.changes or self.changes[-1]["version"] < version:
                self.arrived.clear()
                await self.arrived.wait()
        await asyncio.wait_for(reached(), timeout)

    async def close(self):
        await self.ws.close()
        self.reader.cancel()


def apply(state: dict, change: dict) -> None:
    if change["op"] == "delete":
        state.pop(change["record_id"], None)
    else:
        state[change["record_id"]] = change["data"]


def state_of(snapshot: dict, changes: list[dict]) -> dict:
    state = {r["id"]: r["data"] for r in snapshot["records"]}
    for change in changes:
        apply(state, change)
    return state


def assert_contiguous(start: int, changes: list[dict], end: int) -> None:
    versions = [c["version"] for c in changes]
    assert versions == list(range(start + 1, end + 1)), (start, end, versions[:10], len(versions))


async def test_snapshot_then_changes_reach_every_subscriber_including_the_writer(hub):
    name = collection()
    a, b = await Client.connect(hub, "alice"), await Client.connect(hub, "bob")
    first = await a.subscribe(name)
    assert first == {"type": "sync_snapshot", "id": first["id"], "collection": name, "version": 0, "records": []}
    ack = await a.mutate(name, "insert", data={"title": "one"}, mutation_id="m-1")
    assert ack["type"] == "ack" and ack["version"] == 1 and ack["mutation_id"] == "m-1" and ack["record_id"], ack
    snapshot = await b.subscribe(name)
    assert snapshot["version"] == 1
    [record] = snapshot["records"]
    assert record["id"] == ack["record_id"] and record["version"] == 1 and record["data"] == {"title": "one"}
    assert record["updated_by"] == "alice" and isinstance(record["updated_at"], int)
    await a.mutate(name, "update", ack["record_id"], {"title": "two"}, base_version=1, mutation_id="m-2")
    await b.mutate(name, "delete", ack["record_id"], mutation_id="m-3")
    await a.wait_version(3)
    await b.wait_version(3)
    assert [c["version"] for c in a.changes] == [1, 2, 3]
    assert a.changes[0] == {"type": "sync_change", "collection": name, "op": "insert", "record_id": ack["record_id"],
                            "version": 1, "data": {"title": "one"}, "mutation_id": "m-1", "by": "alice"}
    assert [c["op"] for c in b.changes] == ["update", "delete"] and "data" not in b.changes[1]
    assert b.changes[1]["mutation_id"] == "m-3" and b.changes[1]["by"] == "bob"
    # Unsubscribed: no more changes.
    assert (await b.request({"type": "sync_unsubscribe", "collection": name}))["type"] == "ack"
    await a.mutate(name, "insert", "x", {"n": 1})
    await a.wait_version(4)
    await asyncio.sleep(0.2)
    assert [c["version"] for c in b.changes] == [2, 3]
    await a.close()
    await b.close()


async def test_a_stale_base_version_is_a_conflict_with_the_current_record(hub):
    name = collection()
    a = await Client.connect(hub)
    await a.mutate(name, "insert", "r", {"v": 1})
    await a.mutate(name, "update", "r", {"v": 2}, base_version=1)
    conflict = await a.mutate(name, "update", "r", {"v": 3}, base_version=1)
    assert conflict["type"] == "error" and conflict["code"] == "conflict", conflict
    assert conflict["current"]["version"] == 2 and conflict["current"]["data"] == {"v": 2}
    # Inserting an existing id: a conflict too; deleting with a stale version as well.
    again = await a.mutate(name, "insert", "r", {"v": 9})
    assert again["code"] == "conflict" and again["current"]["id"] == "r"
    assert (await a.mutate(name, "delete", "r", base_version=1))["code"] == "conflict"
    # Without base_version the last write wins.
    assert (await a.mutate(name, "update", "r", {"v": 4}))["version"] == 3
    await a.mutate(name, "delete", "r", base_version=3)
    gone = await a.mutate(name, "update", "r", {"v": 5}, base_version=3)
    assert gone["code"] == "conflict" and gone["current"] is None
    assert (await a.mutate(name, "update", "r", {"v": 5}))["code"] == "not_found"
    snapshot = await a.subscribe(name)
    assert snapshot["version"] == 4 and snapshot["records"] == []
    await a.close()


async def test_a_mutation_retried_after_a_dropped_ack_is_applied_once(hub):
    name = collection()
    watcher = await Client.connect(hub, "bob")
    await watcher.subscribe(name)
    ws = await ws_connect(hub.ws(), headers=bearer(hs256(SECRET, "alice")))
    await recv_frame(ws)
    # The ack is lost with the connection: sent, then the socket closed before reading anything.
    frame = {"type": "sync_mutate", "collection": name, "op": "insert", "data": {"n": 1}, "mutation_id": "once", "id": 1}
    await ws.send(json.dumps(frame))
    await ws.close()
    await watcher.wait_version(1)
    retry = await Client.connect(hub, "alice")
    ack = await retry.mutate(name, "insert", data={"n": 1}, mutation_id="once")
    assert ack["type"] == "ack" and ack["version"] == 1 and ack["mutation_id"] == "once"
    assert ack["record_id"] == watcher.changes[0]["record_id"]
    await asyncio.sleep(0.2)
    assert len(watcher.changes) == 1
    assert len((await retry.subscribe(name))["records"]) == 1
    await retry.close()
    await watcher.close()


async def test_concurrent_writers_converge(hub):
    name = collection()
    readers = [await Client.connect(hub, f"r{i}") for i in range(3)]
    snapshots = [await r.subscribe(name) for r in readers]
    writers = [await Client.connect(hub, f"w{i}") for i in range(4)]
    records = [f"rec{i}" for i in range(5)]
    await writers[0].mutate(name, "insert", records[0], {"by": "seed"})

    async def write(index: int, client: Client):
        for n in range(60):
            record = records[(index + n) % len(records)]
            reply = await client.mutate(name, "update" if n % 7 else "delete", record,
                                        {"writer": index, "n": n} if n % 7 else None)
            if reply["type"] == "error" and reply["code"] == "not_found":
                await client.mutate(name, "insert", record, {"writer": index, "n": n})

    await asyncio.gather(*(write(i, w) for i, w in enumerate(writers)))
    final = await writers[0].subscribe(name)
    for reader, snapshot in zip(readers, snapshots):
        await reader.wait_version(final["version"])
        assert_contiguous(snapshot["version"], reader.changes, final["version"])
        assert state_of(snapshot, reader.changes) == {r["id"]: r["data"] for r in final["records"]}
    for c in readers + writers:
        await c.close()


async def test_a_subscribe_racing_a_burst_of_writes_loses_and_doubles_nothing(hub):
    name = collection()
    writer = await Client.connect(hub, "w")
    total = 400

    async def burst():
        # Waves of 20 in flight, so the version moves on while the subscribers arrive.
        for start in range(0, total, 20):
            acks = await asyncio.gather(*(writer.mutate(name, "insert", f"r{n}", {"n": n}) for n in range(start, start + 20)))
            assert all(a["type"] == "ack" for a in acks)

    async def late_subscriber(delay: float):
        await asyncio.sleep(delay)
        client = await Client.connect(hub, "s")
        snapshot = await client.subscribe(name)
        await client.wait_version(total) if snapshot["version"] < total else None
        return client, snapshot

    results = await asyncio.gather(burst(), *(late_subscriber(d / 25) for d in range(8)))
    seen = set()
    for client, snapshot in results[1:]:
        seen.add(snapshot["version"])
        assert_contiguous(snapshot["version"], client.changes, total)
        state = state_of(snapshot, client.changes)
        assert state == {f"r{n}": {"n": n} for n in range(total)}
        await client.close()
    assert len(seen) > 1, f"every subscriber saw the same snapshot version {seen}: no race was exercised"
    await writer.close()


async def resume_after_missing_1000_changes(write_hub, read_hub) -> None:
    """bob subscribes on `read_hub` and goes away; 1,000 changes are written on `write_hub`; bob
    resumes `since` his version on `read_hub` and gets them as `sync_changes` (not a snapshot),
    then the next change live, once."""
    name = collection()
    writer = await Client.connect(write_hub)
    await writer.mutate(name, "insert", "r", {"n": -1})
    away = await Client.connect(read_hub, "bob")
    at = (await away.subscribe(name))["version"]
    await away.close()
    for start in range(0, 1000, 100):
        await asyncio.gather(*(writer.mutate(name, "update", "r", {"n": n}) for n in range(start, start + 100)))
    back = await Client.connect(read_hub, "bob")
    resumed = await back.subscribe(name, since=at)
    assert resumed["type"] == "sync_changes" and resumed["version"] == at + 1000, {k: resumed[k] for k in ("type", "version")}
    assert_contiguous(at, resumed["changes"], at + 1000)
    await writer.mutate(name, "delete", "r")
    await back.wait_version(at + 1001)
    assert [c["version"] for c in back.changes] == [at + 1001]
    await writer.close()
    await back.close()


async def test_resume_after_missing_1000_changes_gets_the_changes_not_a_snapshot(hub):
    await resume_after_missing_1000_changes(hub, hub)


async def test_resume_past_the_kept_changes_is_a_snapshot(hub):
    name = "small:resume"
    a = await Client.connect(hub)
    await a.mutate(name, "insert", "r", {"n": 0})
    for n in range(6):
        await a.mutate(name, "update", "r", {"n": n + 1})
    # sync_changes_kept 5: versions 3..7 are kept; since 2 resumes, since 1 gets a snapshot.
    assert (await a.subscribe(name, since=2))["type"] == "sync_changes"
    snapshot = await a.subscribe(name, since=1)
    assert snapshot["type"] == "sync_snapshot" and snapshot["version"] == 7 and snapshot["records"][0]["data"] == {"n": 6}
    assert (await a.subscribe(name, since=99))["type"] == "sync_snapshot"
    await a.close()


async def test_limits_authorization_and_bad_input_get_clear_errors(hub):
    a = await Client.connect(hub)
    big = await a.mutate("small:lim", "insert", data={"x": "y" * 100})
    assert big["code"] == "too_large" and "sync_max_record_size" in big["message"], big
    await a.mutate("small:lim", "insert", data={})
    await a.mutate("small:lim", "insert", data={})
    full = await a.mutate("small:lim", "insert", data={})
    assert full["code"] == "too_large" and "sync_max_records" in full["message"], full
    plain = await a.subscribe("plain:x")
    assert plain["code"] == "forbidden" and "sync" in plain["message"], plain
    assert (await a.mutate("ro:x", "insert", data={}))["code"] == "forbidden"
    assert (await a.subscribe("ro:x"))["type"] == "sync_snapshot"
    scoped = await Client.connect(hub, "carol", subscribe=["tasks:mine"], publish=["tasks:mine"])
    assert (await scoped.subscribe("tasks:other"))["code"] == "forbidden"
    assert (await scoped.mutate("tasks:other", "insert", data={}))["code"] == "forbidden"
    assert (await scoped.mutate("tasks:mine", "insert", data={}))["type"] == "ack"
    for frame, message in [
        ({"type": "sync_mutate", "collection": "tasks:a", "op": "upsert", "mutation_id": "m"}, "op"),
        ({"type": "sync_mutate", "collection": "tasks:a", "op": "insert", "data": {}}, "mutation_id"),
        ({"type": "sync_mutate", "collection": "tasks:a", "op": "update", "data": {}, "mutation_id": "m"}, "record_id"),
        ({"type": "sync_mutate", "collection": "tasks:a", "op": "update", "record_id": "r", "mutation_id": "m"}, "data"),
        ({"type": "sync_mutate", "collection": "tasks:a", "op": "update", "record_id": "r", "data": {},
          "base_version": "1", "mutation_id": "m"}, "base_version"),
        ({"type": "sync_subscribe", "collection": "tasks:a", "since": -3}, "since"),
        ({"type": "sync_subscribe"}, "collection"),
        ({"type": "sync_mutate", "collection": "tasks:a", "op": "insert", "data": {}, "mutation_id": "m" * 129}, "mutation_id"),
    ]:
        reply = await a.request(frame)
        assert reply["type"] == "error" and reply["code"] == "bad_request" and message in reply["message"], (frame, reply)
    await a.close()
    await scoped.close()


async def test_sync_subscriptions_count_against_max_subscriptions_per_connection():
    h = Hub(hub_args(NAMESPACES), env={"CHORUS_MAX_SUBSCRIPTIONS_PER_CONNECTION": "2"}).start()
    try:
        a = await Client.connect(h)
        assert (await a.subscribe("tasks:one"))["type"] == "sync_snapshot"
        assert (await a.subscribe("tasks:two"))["type"] == "sync_snapshot"
        # Subscribing again to one of them is a restart, not a third.
        assert (await a.subscribe("tasks:one"))["type"] == "sync_snapshot"
        third = await a.subscribe("tasks:three")
        assert third["code"] == "rate_limited" and "max_subscriptions_per_connection" in third["message"], third
        await a.request({"type": "sync_unsubscribe", "collection": "tasks:two"})
        assert (await a.subscribe("tasks:three"))["type"] == "sync_snapshot"
        await a.close()
    finally:
        h.stop()


async def test_sync_frames_are_unknown_where_no_namespace_has_sync():
    h = Hub(hub_args({"plain": {}})).start()
    try:
        a = await Client.connect(h)
        reply = await a.subscribe("plain:x")
        assert reply["code"] == "unknown_type", reply
        await a.close()
    finally:
        h.stop()


async def test_kill_9_loses_no_acknowledged_mutation(restartable_hub, tmp_path):
    r = restartable_hub(hub_args(NAMESPACES, "--data-dir", str(tmp_path / "data")), cwd=tmp_path)
    h = r.start()
    a = await Client.connect(h)
    acked: dict[str, int] = {}

    async def writer(w: int):
        for n in range(50):
            ack = await a.mutate("tasks:durable", "insert", f"w{w}-{n}", {"n": n})
            acked[ack["record_id"]] = ack["version"]

    tasks = [asyncio.create_task(writer(w)) for w in range(4)]
    await asyncio.sleep(0.5)
    r.kill9()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert acked, "nothing was acknowledged before the kill"
    h = r.start()
    b = await Client.connect(h)
    snapshot = await b.subscribe("tasks:durable")
    stored = {rec["id"]: rec["version"] for rec in snapshot["records"]}
    missing = {k: v for k, v in acked.items() if stored.get(k) != v}
    assert not missing, f"{len(missing)} acknowledged mutations lost: {list(missing.items())[:5]}"
    # The versions go on from where they were.
    ack = await b.mutate("tasks:durable", "insert", data={})
    assert ack["version"] == snapshot["version"] + 1
    assert (tmp_path / "data" / "sync.sqlite").is_file()
    await b.close()


async def test_http_records_with_if_match_and_server_writes_reach_subscribers(hub):
    name = collection()
    watcher = await Client.connect(hub, "bob")
    await watcher.subscribe(name)
    admin = {"Authorization": f"Bearer {API_KEY}"}
    base = f"/api/collections/{name}/records"
    async with hub.http() as http:
        created = await http.post(base, json={"id": "t1", "data": {"title": "a", "done": False}, "mutation_id": "h-1"}, headers=admin)
        assert created.status_code == 201, created.text
        assert created.json()["version"] == 1 and created.json()["record"]["data"] == {"title": "a", "done": False}
        assert created.headers["etag"] == '"1"'
        # The same mutation id again: the first result, nothing applied.
        retried = await http.post(base, json={"id": "t1", "data": {"title": "a"}, "mutation_id": "h-1"}, headers=admin)
        assert retried.status_code == 201 and retried.json()["version"] == 1
        got = await http.get(f"{base}/t1", headers=admin)
        assert got.status_code == 200 and got.json()["version"] == 1 and got.headers["etag"] == '"1"'
        put = await http.put(f"{base}/t1", json={"data": {"title": "b", "done": False}}, headers={**admin, "If-Match": '"1"'})
        assert put.status_code == 200 and put.json()["version"] == 2, put.text
        stale = await http.put(f"{base}/t1", json={"data": {"title": "c"}}, headers={**admin, "If-Match": '"1"'})
        assert stale.status_code == 412, stale.text
        assert stale.json()["error"]["code"] == "conflict" and stale.json()["current"]["version"] == 2
        patched = await http.patch(f"{base}/t1", json={"data": {"done": True}}, headers=admin)
        assert patched.status_code == 200 and patched.json()["record"]["data"] == {"title": "b", "done": True}, patched.text
        exists = await http.post(base, json={"id": "t1", "data": {}}, headers=admin)
        assert exists.status_code == 409 and exists.json()["current"]["id"] == "t1"
        made = await http.put(f"{base}/t2", json={"data": {"title": "new"}}, headers=admin)
        assert made.status_code == 201 and made.json()["version"] == 4
        listing = await http.get(base, headers=admin)
        assert listing.status_code == 200 and listing.json()["version"] == 4
        assert [r["id"] for r in listing.json()["records"]] == ["t1", "t2"]
        deleted = await http.delete(f"{base}/t1", headers={**admin, "If-Match": '"3"'})
        assert deleted.status_code == 200 and deleted.json()["version"] == 5 and deleted.json()["record"] is None
        assert (await http.get(f"{base}/t1", headers=admin)).status_code == 404
        assert (await http.delete(f"{base}/t1", headers=admin)).status_code == 404
        # Bad input and rights.
        bad = await http.put(f"{base}/t2", json={"data": {}}, headers={**admin, "If-Match": "soon"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"
        assert (await http.post(base, json={"nodata": 1}, headers=admin)).status_code == 400
        assert (await http.get("/api/collections/plain:x/records", headers=admin)).status_code == 404
        client = {"Authorization": f"Bearer {hs256(SECRET, 'carol', publish=['tasks:mine'], subscribe=['tasks:mine'])}"}
        assert (await http.get(base, headers=client)).status_code == 403
        assert (await http.post(base, json={"data": {}}, headers=client)).status_code == 403
        mine = await http.post("/api/collections/tasks:mine/records", json={"data": {}}, headers=client)
        assert mine.status_code == 201 and mine.json()["record"]["updated_by"] == "carol", mine.text
        assert (await http.get(base)).status_code == 401
    await watcher.wait_version(5)
    assert [(c["op"], c["version"]) for c in watcher.changes] == [("insert", 1), ("update", 2), ("update", 3), ("insert", 4), ("delete", 5)]
    assert watcher.changes[0]["mutation_id"] == "h-1" and "by" not in watcher.changes[0]
    await watcher.close()

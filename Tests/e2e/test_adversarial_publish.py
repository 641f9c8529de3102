"""Issue #21, defects 5 and 9: who may send `direct` and custom frames, `idempotency_key` on
publish, and a graceful shutdown that answers every publish it stored before closing (1001)."""

from __future__ import annotations

import asyncio
import json
import signal
import struct
import uuid
import httpx
import pytest
import websockets

from conftest import (OP_CLOSE, OP_TEXT, SECRET, RawWebSocket, bearer, hs256, recv_frame, roundtrip, ws_connect,
                      ws_connect_as)

API_KEY = "adversarial-publish-api-key"
PAD = "p" * 16000


def unmasked_text(payload: bytes) -> bytes:
    """A client text frame with an all-zero mask (the payload goes as is: fast to build)."""
    n = len(payload)
    head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
    return head + b"\0\0\0\0" + payload


def unique() -> str:
    return uuid.uuid4().hex[:8]


def keyed_hub(hub_factory, *args: str, namespaces: dict | None = None):
    """A production-like hub (JWT secret, API key) that also lets anonymous clients in."""
    extra = ["--namespaces", json.dumps(namespaces)] if namespaces is not None else []
    return hub_factory(["--jwt-secret", SECRET, "--api-key", API_KEY, "--allow-anonymous", "true", *extra, *args])


async def connect(h, user: str | None = None, **claims):
    """An anonymous client, or one with a token for `user` carrying `claims`."""
    if user is None:
        return await ws_connect(h.ws_url)
    return await ws_connect_as(h.ws_url, hs256(SECRET, user, **claims), user)


async def nothing_more(ws, what: str) -> None:
    """A ping round trip: had anything been sent to `ws` before, it would arrive first."""
    reply = await roundtrip(ws, {"type": "ping", "id": "sync"})
    assert reply == {"type": "pong", "id": "sync"}, f"{what}: {reply}"


# --------------------------------------------------------------------------------------------
# Defect 5: `direct` and custom frames are authorized
# --------------------------------------------------------------------------------------------

async def test_direct_is_refused_to_anonymous_and_publish_restricted_tokens(hub_factory):
    """Default `direct_messages: authenticated`: anonymous clients and tokens whose `publish`
    list restricts them (without `"direct": true`) are refused `forbidden`; `"direct": false`
    always refuses; plain tokens and `"direct": true` still reach bob."""
    h = keyed_hub(hub_factory)
    async with await ws_connect_as(h.ws_url, hs256(SECRET, "bob"), "bob") as bob:
        refused = [
            (None, {}),                           # anonymous
            ("ro", {"publish": []}),              # read-only token
            ("some", {"publish": ["chat.*"]}),    # restricted to some topics
            ("nodirect", {"direct": False}),      # explicitly refused
        ]
        for i, (user, claims) in enumerate(refused):
            async with await connect(h, user, **claims) as ws:
                reply = await roundtrip(ws, {"type": "direct", "id": i, "to": "bob", "event": "x", "data": i})
                assert reply["type"] == "error" and reply["code"] == "forbidden", (i, reply)
                assert "direct" in reply["message"], reply
        await nothing_more(bob, "bob got a refused direct message")

        allowed = [("alice", {}), ("ro2", {"publish": [], "direct": True})]
        for i, (user, claims) in enumerate(allowed):
            async with await connect(h, user, **claims) as ws:
                ack = await roundtrip(ws, {"type": "direct", "id": i, "to": "bob", "event": "x", "data": i})
                assert ack["type"] == "ack", ack
            m = await recv_frame(bob)
            assert m["type"] == "message" and m["topic"] == "direct" and m["data"] == i, m


@pytest.mark.parametrize("mode, anonymous_ok, token_ok", [("clients", True, True), ("server", False, False)])
async def test_direct_messages_option(hub_factory, mode, anonymous_ok, token_ok):
    h = keyed_hub(hub_factory, "--direct-messages", mode)
    async with await ws_connect_as(h.ws_url, hs256(SECRET, "bob"), "bob") as bob:
        for user, ok in [(None, anonymous_ok), ("alice", token_ok)]:
            async with await connect(h, user) as ws:
                reply = await roundtrip(ws, {"type": "direct", "id": 1, "to": "bob", "data": "hi"})
            assert reply["type"] == ("ack" if ok else "error"), reply
            if ok:
                assert (await recv_frame(bob))["data"] == "hi"
            else:
                assert reply["code"] == "forbidden" and "direct_messages" in reply["message"], reply
        await nothing_more(bob, "bob got a refused direct message")
        # The HTTP API with the API key may always send.
        async with h.http(headers=bearer(API_KEY)) as c:
            assert (await c.post("/api/users/bob/send", json={"data": "api"})).status_code == 200
        assert (await recv_frame(bob))["data"] == "api"


async def test_demo_typing_obeys_the_namespace_publish_rule(hub_factory):
    """`demo:typing` publishes for the client: into a `publish: server` namespace it is refused
    to anonymous and read-only clients alike, and nothing is published."""
    room = unique()
    h = keyed_hub(hub_factory, namespaces={"demo-typing": {"publish": "server"}})
    async with await ws_connect(h.ws(topics=[f"demo-typing:{room}"])) as watcher:
        assert (await recv_frame(watcher))["type"] == "subscribed"
        for user, claims in [(None, {}), ("ro", {"publish": []}), ("alice", {})]:
            async with await connect(h, user, **claims) as ws:
                reply = await roundtrip(ws, {"type": "demo:typing", "id": 1, "room": room})
            assert reply["type"] == "error" and reply["code"] == "forbidden", reply
            assert "server only" in reply["message"], reply
        await nothing_more(watcher, "a refused typing notice was published")


async def test_demo_typing_still_works_where_the_client_may_publish(hub_factory):
    room = unique()
    h = keyed_hub(hub_factory, namespaces={"demo-typing": {"publish": "authenticated"}})
    async with await ws_connect(h.ws(topics=[f"demo-typing:{room}"])) as watcher:
        assert (await recv_frame(watcher))["type"] == "subscribed"
        async with await ws_connect(h.ws_url) as anonymous:
            reply = await roundtrip(anonymous, {"type": "demo:typing", "id": 1, "room": room})
            assert reply["code"] == "forbidden" and "authenticated" in reply["message"], reply
        async with await connect(h, "alice") as alice:
            assert await roundtrip(alice, {"type": "demo:typing", "id": 2, "room": room}) == {"type": "ack", "id": 2}
        m = await recv_frame(watcher)
        assert m["event"] == "typing" and m["data"]["user"] == "alice" and m["from"]["user"] == "alice", m


# --------------------------------------------------------------------------------------------
# Defect 9: idempotency_key
# --------------------------------------------------------------------------------------------

async def collect(ws, n: int) -> list[dict]:
    return [await recv_frame(ws) for _ in range(n)]


@pytest.mark.parametrize("topic_prefix", ["hist:", "plain."])
async def test_a_retry_gets_the_original_ack_and_is_not_delivered(hub_factory, topic_prefix):
    h = keyed_hub(hub_factory, namespaces={"hist": {"history_size": 100}})
    topic = topic_prefix + unique()
    async with await ws_connect(h.ws(topics=[topic])) as watcher, \
            await connect(h, "ann") as ann, await connect(h, "ann") as ann2, await connect(h, "bob") as bob:
        assert (await recv_frame(watcher))["type"] == "subscribed"
        frame = {"type": "publish", "topic": topic, "data": {"n": 1}, "idempotency_key": "k1"}
        # Three copies in one burst: the later two wait for the first's commit.
        for i in range(3):
            await ann.send(json.dumps({**frame, "id": i}))
        acks = await collect(ann, 3)
        assert all(a["type"] == "ack" for a in acks), acks
        assert len({(a["message_id"], a.get("offset"), a.get("epoch")) for a in acks}) == 1, acks
        # The same user on another connection, and over HTTP, shares the key.
        again = await roundtrip(ann2, {**frame, "id": 9})
        assert again["message_id"] == acks[0]["message_id"], again
        async with h.http(headers=bearer(hs256(SECRET, "ann"))) as c:
            r = await c.post("/api/publish", json={"topic": topic, "data": {"n": 1}, "idempotency_key": "k1"})
        assert r.status_code == 200 and r.json()["message_id"] == acks[0]["message_id"], r.text
        # Another publisher's key of the same name is its own.
        other = await roundtrip(bob, {**frame, "id": 1})
        assert other["message_id"] != acks[0]["message_id"], other
        delivered = [await recv_frame(watcher), await recv_frame(watcher)]
        assert [m["message_id"] for m in delivered] == [acks[0]["message_id"], other["message_id"]], delivered
        await nothing_more(watcher, "a retry was delivered again")
        async with h.http() as c:
            text = (await c.get("/metrics")).text
        assert "chorus_duplicate_publishes_total 4" in text, [l for l in text.splitlines() if "duplicate" in l]
        assert "chorus_idempotency_keys 2" in text, [l for l in text.splitlines() if "idempotency" in l]


async def test_http_publish_idempotency_key(hub_factory):
    h = keyed_hub(hub_factory, namespaces={"hist": {"history_size": 100}})
    topic = "hist:" + unique()
    body = {"topic": topic, "data": 1, "idempotency_key": "order-17"}
    async with h.http(headers=bearer(API_KEY)) as c:
        first, second = [await c.post("/api/publish", json=body) for _ in range(2)]
        assert first.status_code == second.status_code == 200, (first.text, second.text)
        assert first.json() == second.json() and first.json()["offset"] == 1, (first.json(), second.json())
        too_long = await c.post("/api/publish", json={**body, "idempotency_key": "k" * 129})
        assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "bad_request", too_long.text
        history = (await c.get(f"/api/topics/{topic}/history")).json()
    assert [m["message_id"] for m in history["messages"]] == [first.json()["message_id"]], history


async def test_the_window_ends(hub_factory):
    h = keyed_hub(hub_factory, "--idempotency-window", "300ms")
    topic = "plain." + unique()
    async with await connect(h, "ann") as ann:
        frame = {"type": "publish", "id": 1, "topic": topic, "data": 1, "idempotency_key": "k"}
        first = await roundtrip(ann, frame)
        await asyncio.sleep(0.5)
        later = await roundtrip(ann, frame)
        assert later["type"] == "ack" and later["message_id"] != first["message_id"], (first, later)


async def test_a_long_idempotency_key_is_a_bad_request(hub_factory):
    h = keyed_hub(hub_factory)
    async with await ws_connect(h.ws_url) as ws:
        reply = await roundtrip(ws, {"type": "publish", "id": 1, "topic": "a", "data": 1, "idempotency_key": "k" * 129})
        assert reply["code"] == "bad_request" and "idempotency_key" in reply["message"], reply


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


async def publish_with_keys(h, user: str, start: int, count: int, topic: str) -> None:
    """`count` publishes, each with a distinct key of the longest size, in bursts."""
    ws = await RawWebSocket.connect(h, headers=bearer(hs256(SECRET, user)))
    assert (await ws.recv_json())["type"] == "auth_success"
    for first in range(start, start + count, 500):
        ws.writer.write(b"".join(
            unmasked_text(json.dumps({"type": "publish", "id": i, "topic": topic, "data": 1,
                                      "idempotency_key": f"{i:0128d}"}).encode())
            for i in range(first, min(first + 500, start + count))))
        await ws.writer.drain()
    for _ in range(count):
        assert (await ws.recv_json(timeout=30))["type"] == "ack"
    await ws.aclose()


async def test_remembered_keys_are_bounded(hub_factory):
    """Distinct keys from a client: memory stops growing at `max_idempotency_keys` (metric and
    VmRSS), and the oldest keys are the ones forgotten."""
    h = keyed_hub(hub_factory, "--max-idempotency-keys", "5000")
    topic = "t" * 200 + "." + unique()    # a long topic: the worst case per key
    # The store holds exactly the bound (the metric). RSS is a coarse check only: on a shared
    # machine it moves by a few MB between runs (kept, 20,000 keys would hold 5.5-10 MB).
    await publish_with_keys(h, "ann", 0, 20000, topic)
    warm = rss_kib(h.pid)
    await publish_with_keys(h, "ann", 20000, 20000, topic)
    after = rss_kib(h.pid)
    async with h.http() as c:
        text = (await c.get("/metrics")).text
    assert "chorus_idempotency_keys 5000" in text, [l for l in text.splitlines() if "idempotency" in l]
    print(f"VmRSS {warm} KiB at the bound, {after} KiB after 20,000 more keys")
    assert after - warm < 16 * 1024, (warm, after)
    async with await connect(h, "ann") as ann:
        old = await roundtrip(ann, {"type": "publish", "id": 1, "topic": topic, "data": 1, "idempotency_key": f"{0:0128d}"})
        recent = await roundtrip(ann, {"type": "publish", "id": 2, "topic": topic, "data": 1, "idempotency_key": f"{39999:0128d}"})
    async with h.http() as c:
        text = (await c.get("/metrics")).text
    assert "chorus_duplicate_publishes_total 1" in text, [l for l in text.splitlines() if "duplicate" in l]
    assert old["type"] == recent["type"] == "ack", (old, recent)
    assert old["message_id"] != recent["message_id"]


# --------------------------------------------------------------------------------------------
# Defect 9: shutdown answers every publish it accepted before 1001
# --------------------------------------------------------------------------------------------

async def test_shutdown_acknowledges_every_stored_publish(restartable_hub, tmp_path):
    """4 WebSocket clients pipeline publishes (with idempotency keys) to a history topic, and
    HTTP publishers post meanwhile; SIGTERM after 1,000 acks. Each WebSocket client's answered
    publishes (ack or error) are exactly the first n it sent, all before `disconnect` and 1001;
    after a restart the history holds exactly the acknowledged messages (nothing stored
    unacknowledged), and retrying every unacknowledged publish with its key stores each once."""
    namespaces = {"dur": {"history_size": 100000}}
    r = restartable_hub(["--namespaces", json.dumps(namespaces), "--api-key", API_KEY,
                         "--allow-anonymous", "true", "--jwt-secret", SECRET], cwd=tmp_path)
    h = r.start()
    topic = "dur:orders"
    clients, per_client, signal_at = 8, 1000, 1000
    answers: list[dict[int, dict]] = [{} for _ in range(clients)]
    ends: list[tuple[list[dict], int | None]] = [([], None)] * clients
    http_acked: dict[str, str] = {}
    signalled = asyncio.Event()

    async def client(ci: int) -> None:
        ws = await RawWebSocket.connect(h, headers=bearer(hs256(SECRET, f"user{ci}")))
        assert (await ws.recv_json())["type"] == "auth_success"

        async def reader():
            tail: list[dict] = []
            while True:
                try:
                    opcode, payload = await ws.recv_raw_frame(timeout=30)
                except (ConnectionError, asyncio.IncompleteReadError):
                    ends[ci] = (tail, None)
                    return
                if opcode == OP_CLOSE:
                    ends[ci] = (tail, struct.unpack("!H", payload[:2])[0])
                    return
                if opcode != OP_TEXT:
                    continue
                f = json.loads(payload)
                if f["type"] in ("ack", "error") and "id" in f:
                    assert not tail, f"an answer after {tail}: {f}"
                    answers[ci][f["id"]] = f
                    if sum(len(a) for a in answers) >= signal_at and not signalled.is_set():
                        signalled.set()
                        h.signal(signal.SIGTERM)
                else:
                    tail.append(f)

        rt = asyncio.create_task(reader())
        # Bursts of frames in one write: the hub commits each burst in one group commit, so
        # publishes are in flight when the signal comes.
        for start in range(0, per_client, 20):
            burst = b"".join(unmasked_text(json.dumps({"type": "publish", "id": i, "topic": topic, "data": {"c": ci, "i": i, "pad": PAD},
                                                       "idempotency_key": f"{ci}-{i}"}).encode())
                             for i in range(start, start + 20))
            try:
                ws.writer.write(burst)
                await ws.writer.drain()
            except ConnectionError:
                break
        await rt
        ws.close_transport()

    async def http_publisher(pi: int) -> None:
        async with h.http(headers=bearer(API_KEY), timeout=10) as c:
            for i in range(100000):
                try:
                    resp = await c.post("/api/publish", json={"topic": topic, "data": {"h": pi, "i": i}})
                except httpx.HTTPError:
                    return
                if resp.status_code != 200:
                    return
                http_acked[resp.json()["message_id"]] = f"h{pi}-{i}"

    await asyncio.wait_for(asyncio.gather(*(client(ci) for ci in range(clients)),
                                          *(http_publisher(pi) for pi in range(2))), 90)
    assert h.wait(15) == 0

    acked: dict[str, str] = {}   # message_id → "c-i"
    unacked: list[tuple[int, int]] = []
    for ci in range(clients):
        tail, code = ends[ci]
        assert code == 1001, (ci, code, tail[-3:])
        assert [f["type"] for f in tail][-1:] == ["disconnect"], tail[-3:]
        ids = sorted(answers[ci])
        assert ids == list(range(len(ids))), f"client {ci}: answers are not a prefix of what it sent"
        for i, f in answers[ci].items():
            if f["type"] == "ack":
                acked[f["message_id"]] = f"{ci}-{i}"
            else:
                assert f["code"] == "unavailable", f
                unacked.append((ci, i))
        unacked += [(ci, i) for i in range(len(ids), per_client)]
    assert signalled.is_set() and len(acked) >= signal_at // 2, len(acked)
    assert unacked, "setup: every publish was answered before the signal"

    h = r.start()
    async with h.http(headers=bearer(API_KEY), timeout=30) as c:
        stored: list[dict] = []
        since = 0
        while True:
            page = (await c.get(f"/api/topics/{topic}/history", params={"since": since, "limit": 1000})).json()["messages"]
            if not page:
                break
            stored += page
            since = page[-1]["offset"]
    ws_stored = {m["message_id"] for m in stored if "c" in m["data"]}
    http_stored = {m["message_id"] for m in stored if "h" in m["data"]}
    assert ws_stored == set(acked), (f"{len(ws_stored - set(acked))} stored without an ack, "
                                     f"{len(set(acked) - ws_stored)} acked but lost")
    assert http_stored == set(http_acked), (len(http_stored - set(http_acked)), len(set(http_acked) - http_stored))

    # Every publish that got no ack was not stored: retrying it with its key stores it once.
    async with await ws_connect_as(h.ws_url, hs256(SECRET, "user0"), "user0") as ws:
        retry = [(ci, i) for ci, i in unacked if ci == 0][:200]
        for ci, i in retry:
            await ws.send(json.dumps({"type": "publish", "id": i, "topic": topic, "data": {"c": ci, "i": i},
                                      "idempotency_key": f"{ci}-{i}"}))
            await ws.send(json.dumps({"type": "publish", "id": i, "topic": topic, "data": {"c": ci, "i": i},
                                      "idempotency_key": f"{ci}-{i}"}))
        replies = await collect(ws, 2 * len(retry))
    assert all(f["type"] == "ack" for f in replies), [f for f in replies if f["type"] != "ack"][:3]
    assert len({f["message_id"] for f in replies}) == len(retry)
    async with h.http(headers=bearer(API_KEY)) as c:
        last = (await c.get(f"/api/topics/{topic}/history", params={"since": since, "limit": 1000})).json()["messages"]
    keys = [f'{m["data"]["c"]}-{m["data"]["i"]}' for m in last]
    assert sorted(keys) == sorted({f"{ci}-{i}" for ci, i in retry}), "a retried publish was stored twice"

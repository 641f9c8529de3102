"""Presence on one hub over real sockets (docs/protocol.md "Presence"): join, state, batched
diffs, update, leave by frame / unsubscribe / close / idle timeout, the member limit, meta size,
authorization, a 1,000-join burst, and `GET /api/topics/{topic}/presence`."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from conftest import (Hub, RawWebSocket, bearer, hs256, recv_frame, recv_type, roundtrip, send, ws_connect,
                      ws_connect_as)

SECRET = "presence-test-secret-of-32-bytes-at-least"
API_KEY = "presence-test-key"
NAMESPACES = json.dumps({
    "room": {"presence": True, "presence_max_members": 3, "presence_max_meta_size": 64},
    "big": {"presence": True},
    "plain": {},
})


@pytest.fixture(scope="module")
def hub():
    h = Hub(["--jwt-secret", SECRET, "--api-key", API_KEY, "--namespaces", NAMESPACES]).start()
    yield h
    h.stop()


async def join_as(hub, user: str, topic: str, meta=None, limit=None, **claims):
    """A connection of `user` that joined `topic` (asking for `limit` members, when given): (ws,
    its client id, the presence_state)."""
    ws = await ws_connect(hub.ws(), headers=bearer(hs256(SECRET, user, **claims)))
    hello = await recv_frame(ws)
    assert hello["type"] == "auth_success", hello
    frame = {"type": "presence_join", "topic": topic, "id": "j"}
    if meta is not None:
        frame["meta"] = meta
    if limit is not None:
        frame["limit"] = limit
    state = await roundtrip(ws, frame)
    assert state["type"] == "presence_state" and state["id"] == "j", state
    return ws, hello["client"], state


async def next_diff(ws, timeout: float = 3.0) -> dict:
    return await recv_type(ws, "presence_diff", timeout)


def clients(members) -> set[str]:
    return {m["client"] for m in members}


async def burst_of_joins(watcher, sockets, topic: str, diffs) -> tuple[float, int]:
    """Sends `presence_join` of `topic` on every raw socket at once and reads `watcher`'s diffs
    (`diffs(ws)` gives the next) until it has seen all of them join, and none leave. Returns the
    seconds it took and how many diff frames carried them: at most one per 100 ms tick (500
    joins a frame at most), plus the first at once."""
    payload = RawWebSocket.encode_frame(0x1, json.dumps({"type": "presence_join", "topic": topic}).encode())
    started = time.monotonic()
    for raw in sockets:
        raw.writer.write(payload)
    await asyncio.gather(*(raw.writer.drain() for raw in sockets))
    joined: set[str] = set()
    frames = 0
    while len(joined) < len(sockets):
        diff = await diffs(watcher)
        frames += 1
        assert diff["leaves"] == []
        joined |= clients(diff["joins"])
    elapsed = time.monotonic() - started
    assert frames <= elapsed / 0.1 + 3, (frames, elapsed)
    return elapsed, frames


async def join_seen(observer, client: str, timeout: float = 3.0) -> dict:
    """The diff that shows `client`'s join to `observer` (a join and a leave within one tick
    cancel out, so a test that wants to see a leave waits for the join first)."""
    deadline = time.monotonic() + timeout
    while True:
        diff = await next_diff(observer, max(0.05, deadline - time.monotonic()))
        if client in clients(diff["joins"]):
            return diff


async def test_join_gives_state_and_peers_get_the_join(hub):
    alice, a, state = await join_as(hub, "alice", "room:join", {"status": "online"})
    assert state["topic"] == "room:join" and state["count"] == 1 and state["users"] == 1
    [me] = state["members"]
    assert me["user"] == "alice" and me["client"] == a and me["meta"] == {"status": "online"}
    assert abs(me["joined_at"] - time.time() * 1000) < 10_000
    # Her own join comes back as a diff too (a diff may repeat what a state showed).
    diff = await next_diff(alice)
    assert clients(diff["joins"]) == {a} and diff["leaves"] == []

    bob, b, state = await join_as(hub, "bob", "room:join")
    assert clients(state["members"]) == {a, b} and state["count"] == 2 and state["users"] == 2
    assert [m["meta"] for m in state["members"] if m["client"] == b] == [{}]
    diff = await next_diff(alice)
    assert diff["topic"] == "room:join" and clients(diff["joins"]) == {b} and diff["leaves"] == []

    # `presence` and `presence_stats` for a member.
    state = await roundtrip(alice, {"type": "presence", "topic": "room:join", "id": 1})
    assert state["type"] == "presence_state" and clients(state["members"]) == {a, b}
    stats = await roundtrip(alice, {"type": "presence_stats", "topic": "room:join", "id": 2})
    assert stats == {"type": "presence_stats", "id": 2, "topic": "room:join", "clients": 2, "users": 2}
    await alice.close()
    await bob.close()


async def test_a_users_connections_are_members_each(hub):
    one, c1, _ = await join_as(hub, "carol", "room:user")
    two, c2, state = await join_as(hub, "carol", "room:user")
    assert clients(state["members"]) == {c1, c2} and state["count"] == 2 and state["users"] == 1
    await join_seen(two, c2)
    await one.close()
    await leave_seen(two, c1)
    stats = await roundtrip_skip(two, {"type": "presence_stats", "topic": "room:user", "id": 1}, "presence_stats")
    assert stats["clients"] == 1 and stats["users"] == 1
    await two.close()


async def test_update_is_acked_and_seen_as_leave_then_join(hub):
    alice, a, _ = await join_as(hub, "alice", "room:update", {"status": "online"})
    bob, b, _ = await join_as(hub, "bob", "room:update")
    await join_seen(alice, b)
    ack = await roundtrip_skip(bob, {"type": "presence_update", "topic": "room:update", "meta": {"status": "away"}, "id": 5}, "ack")
    assert ack == {"type": "ack", "id": 5}, ack
    diff = await join_seen(alice, b)
    assert [m["meta"] for m in diff["leaves"]] == [{}] and [m["meta"] for m in diff["joins"]] == [{"status": "away"}]
    state = await roundtrip_skip(alice, {"type": "presence", "topic": "room:update", "id": 6}, "presence_state")
    assert {m["client"]: m["meta"] for m in state["members"]} == {a: {"status": "online"}, b: {"status": "away"}}
    # Only a member can update.
    carol = await ws_connect(hub.ws(), headers=bearer(hs256(SECRET, "carol")))
    await recv_frame(carol)
    err = await roundtrip(carol, {"type": "presence_update", "topic": "room:update", "meta": {}, "id": 7})
    assert err["type"] == "error" and err["code"] == "not_found", err
    for ws in (alice, bob, carol):
        await ws.close()


async def leave_seen(observer, client: str, timeout: float = 3.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        diff = await next_diff(observer, max(0.05, deadline - time.monotonic()))
        if client in clients(diff["leaves"]):
            return diff


@pytest.mark.parametrize("how", ["frame", "unsubscribe", "close"])
async def test_leave(hub, how):
    topic = f"room:leave-{how}"
    alice, a, _ = await join_as(hub, "alice", topic)
    bob, b, _ = await join_as(hub, "bob", topic)
    await join_seen(alice, b)
    if how == "frame":
        ack = await roundtrip_skip(bob, {"type": "presence_leave", "topic": topic, "id": 3}, "ack")
        assert ack == {"type": "ack", "id": 3}, ack
    elif how == "unsubscribe":
        reply = await roundtrip_skip(bob, {"type": "unsubscribe", "topic": topic, "id": 3}, "unsubscribed")
        assert reply["topic"] == topic
    else:
        await bob.close()
    diff = await leave_seen(alice, b)
    assert [m["user"] for m in diff["leaves"] if m["client"] == b] == ["bob"]
    stats = await roundtrip_skip(alice, {"type": "presence_stats", "topic": topic, "id": 4}, "presence_stats")
    assert stats["clients"] == 1
    await alice.close()
    if how != "close":
        await bob.close()


async def roundtrip_skip(ws, frame, type_: str) -> dict:
    """Send `frame`, return the reply of `type_`, skipping diffs that arrive meanwhile."""
    await send(ws, frame)
    return await recv_type(ws, type_)


async def test_a_silent_client_leaves_within_the_idle_timeout(hub_factory):
    h = hub_factory(["--namespaces", NAMESPACES, "--idle-timeout", "2s", "--ping-interval", "500ms"])
    watcher = await ws_connect(h.ws())
    state = await roundtrip(watcher, {"type": "presence_join", "topic": "room:idle", "id": 1})
    [me] = clients(state["members"])
    silent = await RawWebSocket.connect(h)
    await silent.send_json({"type": "presence_join", "topic": "room:idle", "id": 1})
    state = await silent.recv_json()
    assert state["type"] == "presence_state" and state["count"] == 2
    [gone] = clients(state["members"]) - {me}
    await join_seen(watcher, gone)
    # The silent client never answers a ping: the hub closes it at the idle timeout, and it leaves.
    started = time.monotonic()
    await leave_seen(watcher, gone, timeout=6.0)
    assert time.monotonic() - started < 5.0
    silent.writer.close()
    await watcher.close()


async def test_member_limit_meta_size_and_namespace(hub):
    members = [await join_as(hub, f"user{i}", "room:full") for i in range(3)]
    fourth = await ws_connect(hub.ws(), headers=bearer(hs256(SECRET, "dave")))
    await recv_frame(fourth)
    err = await roundtrip(fourth, {"type": "presence_join", "topic": "room:full", "id": 1})
    assert err["type"] == "error" and err["code"] == "forbidden" and "presence_max_members" in err["message"], err
    # Joining again is an update, not a fourth member.
    again = await roundtrip_skip(members[0][0], {"type": "presence_join", "topic": "room:full", "meta": {"n": 1}, "id": 2}, "presence_state")
    assert again["count"] == 3
    err = await roundtrip(fourth, {"type": "presence_join", "topic": "room:meta", "meta": {"x": "y" * 100}, "id": 2})
    assert err["type"] == "error" and err["code"] == "too_large", err
    err = await roundtrip(fourth, {"type": "presence_join", "topic": "room:meta", "meta": [1], "id": 3})
    assert err["type"] == "error" and err["code"] == "bad_request", err
    err = await roundtrip(fourth, {"type": "presence_join", "topic": "plain:x", "id": 4})
    assert err["type"] == "error" and err["code"] == "forbidden" and "presence" in err["message"], err
    for ws, _, _ in members:
        await ws.close()
    await fourth.close()


async def test_authorization_follows_the_topics_read_rules(hub):
    ws = await ws_connect(hub.ws(), headers=bearer(hs256(SECRET, "eve", subscribe=["room:mine"])))
    await recv_frame(ws)
    err = await roundtrip(ws, {"type": "presence_join", "topic": "room:theirs", "id": 1})
    assert err["type"] == "error" and err["code"] == "forbidden", err
    for type_ in ("presence", "presence_stats"):
        err = await roundtrip(ws, {"type": type_, "topic": "room:theirs", "id": 2})
        assert err["type"] == "error" and err["code"] == "forbidden", err
    ok = await roundtrip(ws, {"type": "presence_join", "topic": "room:mine", "id": 3})
    assert ok["type"] == "presence_state", ok
    await ws.close()
    # Without a token on a hub that needs one.
    anon = await ws_connect(hub.ws())
    err = await roundtrip(anon, {"type": "presence_join", "topic": "room:mine", "id": 4})
    assert err["type"] == "error" and err["code"] == "unauthorized", err
    await anon.close()


async def test_http_presence(hub):
    alice, a, _ = await join_as(hub, "alice", "room:http", {"name": "Alice"})
    async with hub.http(headers=bearer(API_KEY)) as http:
        r = await http.get("/api/topics/room:http/presence")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["topic"] == "room:http" and body["count"] == 1 and body["users"] == 1
        assert body["members"][0]["client"] == a and body["members"][0]["meta"] == {"name": "Alice"}
        r = await http.get("/api/topics/plain:x/presence")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = await http.get("/api/topics/bad..topic/presence")
        assert r.status_code == 400
    async with hub.http() as http:
        r = await http.get("/api/topics/room:http/presence")
        assert r.status_code == 401
    # A client token reads what it may subscribe to.
    async with hub.http(headers=bearer(hs256(SECRET, "bob", subscribe=["other"], publish=["other"]))) as http:
        r = await http.get("/api/topics/room:http/presence")
        assert r.status_code == 403
    await alice.close()


async def test_a_burst_of_1000_joins_is_a_few_diff_frames(hub_factory):
    h = hub_factory(["--namespaces", NAMESPACES])
    watcher = await ws_connect(h.ws())
    state = await roundtrip(watcher, {"type": "presence_join", "topic": "big:burst", "id": 0})
    assert state["count"] == 1
    await next_diff(watcher)  # its own join
    sockets = [await RawWebSocket.connect(h) for _ in range(1000)]
    elapsed, frames = await burst_of_joins(watcher, sockets, "big:burst", lambda ws: next_diff(ws, timeout=20.0))
    print(f"1000 joins in {elapsed:.2f}s reached a peer as {frames} presence_diff frames")
    assert frames <= 40, frames
    stats = await roundtrip_skip(watcher, {"type": "presence_stats", "topic": "big:burst", "id": 1}, "presence_stats")
    assert stats["clients"] == 1001
    for raw in sockets:
        raw.writer.close()
    await watcher.close()


async def test_signal_between_members_of_a_shared_topic(hub):
    alice, a, _ = await join_as(hub, "alice", "room:sig")
    bob, b, _ = await join_as(hub, "bob", "room:sig")
    await join_seen(alice, b)  # so that bob's leave below is not cancelled by his join in one tick
    carol, c, _ = await join_as(hub, "carol", "room:elsewhere")
    for n in range(20):
        await send(alice, {"type": "signal", "to": b, "data": {"n": n, "sdp": "offer"}, "id": n})
    acks = [await recv_type(alice, "ack") for _ in range(20)]
    assert [ack["id"] for ack in acks] == list(range(20))
    received = [await recv_type(bob, "signal") for _ in range(20)]
    assert [r["data"]["n"] for r in received] == list(range(20)), "in order per pair"
    assert received[0] == {"type": "signal", "from": {"user": "alice", "client": a}, "data": {"n": 0, "sdp": "offer"}}
    # Not sharing a presence topic, unknown, or gone: not_found.
    err = await roundtrip_skip(carol, {"type": "signal", "to": a, "data": {}, "id": "x"}, "error")
    assert err["code"] == "not_found" and err["id"] == "x", err
    err = await roundtrip_skip(alice, {"type": "signal", "to": "nobody", "data": {}, "id": "y"}, "error")
    assert err["code"] == "not_found", err
    await bob.close()
    await leave_seen(alice, b)
    err = await roundtrip_skip(alice, {"type": "signal", "to": b, "data": {}, "id": "z"}, "error")
    assert err["code"] == "not_found", err
    err = await roundtrip_skip(alice, {"type": "signal", "data": {}, "id": "w"}, "error")
    assert err["code"] == "bad_request", err
    await alice.close()
    await carol.close()


async def walk_pages(ws, topic: str, limit: int, first: dict, between=None) -> list[str]:
    """The clients of `first` (a presence_state) and of every page after it, asked for with
    `presence` {limit, after}; `between(step)` runs before each page after the first."""
    seen = [m["client"] for m in first["members"]]
    state, step = first, 0
    while "next" in state:
        assert len(state["members"]) == limit, state
        step += 1
        if between is not None:
            await between(step)
        state = await roundtrip_skip(ws, {"type": "presence", "topic": topic, "limit": limit, "after": state["next"], "id": f"p{step}"},
                                     "presence_state")
        assert state["id"] == f"p{step}", state
        seen += [m["client"] for m in state["members"]]
    assert len(state["members"]) <= limit
    return seen


def churn_between_pages(members, stride: int, join):
    """A `between` for `walk_pages`: before page `step`, member `step × stride` of `members` (as
    `join_as` gives them) closes, and `join()` makes a newcomer join. Returns it, the set of the
    clients that left and the list of the newcomers."""
    left, joined = set(), []

    async def churn(step):
        ws, client, _ = members[(step * stride) % len(members)]
        if client not in left:
            await ws.close()
            left.add(client)
        joined.append(await join())

    return churn, left, joined


def http_pages(hub, topic: str, limit: int) -> tuple[list[str], dict]:
    """Every client of `topic`'s HTTP list read in pages of `limit`, and the last page's body."""
    seen, after = [], None
    with hub.http_sync(headers=bearer(API_KEY)) as http:
        while True:
            params = {"limit": limit} if after is None else {"limit": limit, "after": after}
            r = http.get(f"/api/topics/{topic}/presence", params=params)
            assert r.status_code == 200, r.text
            body = r.json()
            assert len(body["members"]) <= limit
            seen += [m["client"] for m in body["members"]]
            if "next" not in body:
                return seen, body
            after = body["next"]


async def test_pages_walk_the_whole_list_through_joins_and_leaves(hub):
    members = [await join_as(hub, f"u{i % 7}", "big:paged", {"n": i}) for i in range(22)]
    # Joins with a page: the oldest 4 and the totals, and where the next page starts.
    watcher, _, state = await join_as(hub, "watcher", "big:paged", limit=4)
    before = await roundtrip_skip(watcher, {"type": "presence", "topic": "big:paged", "id": "all"}, "presence_state")
    assert [m["client"] for m in state["members"]] == [m["client"] for m in before["members"][:4]], state
    assert state["count"] == 23 and state["users"] == 8 and "next" in state, state
    # Between pages one of the first members leaves and a newcomer joins: nobody present
    # throughout is skipped or listed twice.
    churn, left, joined = churn_between_pages(members, 5, lambda: join_as(hub, "late", "big:paged"))
    seen = await walk_pages(watcher, "big:paged", 4, state, churn)
    assert len(seen) == len(set(seen)), seen
    throughout = {c for _, c, _ in members} - left
    assert throughout <= set(seen), throughout - set(seen)
    # Without changes, the pages (here and over HTTP) are the whole list, in its order.
    whole = await roundtrip_skip(watcher, {"type": "presence", "topic": "big:paged", "id": "w"}, "presence_state")
    assert "next" not in whole
    first = await roundtrip_skip(watcher, {"type": "presence", "topic": "big:paged", "limit": 5, "id": "f"}, "presence_state")
    assert await walk_pages(watcher, "big:paged", 5, first) == [m["client"] for m in whole["members"]]
    listed, last = http_pages(hub, "big:paged", 6)
    assert listed == [m["client"] for m in whole["members"]] and last["count"] == whole["count"]
    # limit 0: only the totals.
    counts = await roundtrip_skip(watcher, {"type": "presence", "topic": "big:paged", "limit": 0, "id": "z"}, "presence_state")
    assert counts["members"] == [] and counts["count"] == whole["count"] and "next" not in counts
    for ws in [ws for ws, c, _ in members if c not in left] + [ws for ws, _, _ in joined] + [watcher]:
        await ws.close()


async def test_bad_limits_and_cursors_are_bad_requests(hub):
    ws, _, _ = await join_as(hub, "alice", "big:bad")
    for frame, field in [({"type": "presence", "limit": 1001}, "'limit'"), ({"type": "presence", "limit": "5"}, "'limit'"),
                         ({"type": "presence_join", "limit": -1}, "'limit'"), ({"type": "presence", "after": "nope"}, "'after'"),
                         ({"type": "presence_join", "after": "1:c"}, "'after'")]:
        err = await roundtrip_skip(ws, {**frame, "topic": "big:bad", "id": "b"}, "error")
        assert err["code"] == "bad_request" and field in err["message"], (frame, err)
    async with hub.http(headers=bearer(API_KEY)) as http:
        for query, field in [("limit=1001", "'limit'"), ("limit=x", "'limit'"), ("after=nope", "'after'")]:
            r = await http.get(f"/api/topics/big:bad/presence?{query}")
            assert r.status_code == 400 and field in r.json()["error"]["message"], (query, r.text)
        r = await http.get("/api/topics/big:bad/presence?limit=0")
        assert r.status_code == 200 and r.json()["members"] == [] and r.json()["count"] == 1, r.text
    await ws.close()

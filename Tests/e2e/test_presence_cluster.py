"""Presence and signalling across a cluster of three hub processes on one Redis
(``broker: redis``; docs/protocol.md "Presence" and "Signalling", cluster notes): one member list
per topic whatever node each member is on, diffs across nodes, leaves by close, a node killed
with SIGKILL whose members leave for everyone within 10 s, a restarted node that leaves no
zombie, and signals relayed between nodes in order, `not_found` once the target is gone."""
from __future__ import annotations

import asyncio
import json
import statistics
import time

import httpx
import pytest

from conftest import RawWebSocket, RedisServer, bearer, hs256, recv_frame, recv_type, send, wait_for, ws_connect
from test_presence import (API_KEY, SECRET, burst_of_joins, churn_between_pages, clients, http_pages, roundtrip_skip,
                           walk_pages)

NAMESPACES = json.dumps({"room": {"presence": True, "presence_max_members": 4}, "big": {"presence": True},
                         "chat": {"history_size": 100}})


def start_node(hub_factory, redis, name: str):
    return hub_factory(["--broker", "redis", "--redis-url", redis.url, "--node-id", name, "--namespaces", NAMESPACES,
                        "--jwt-secret", SECRET, "--api-key", API_KEY])


async def start_cluster(hub_factory, redis):
    """Three nodes n0, n1, n2, once the three are listed (each has beaten once) and ready."""
    nodes = [start_node(hub_factory, redis, f"n{i}") for i in range(3)]
    await wait_for(lambda: len(httpx.get(f"{nodes[0].url}/api/nodes", headers=bearer(API_KEY), timeout=5).json()["nodes"]) == 3,
                   what="three nodes registered")
    # Ready: each node's presence subscription is up (until then it would miss others' changes).
    await wait_for(lambda: all(httpx.get(f"{n.url}/ready", timeout=5).json()["checks"]["presence"]["status"] == "ok" for n in nodes),
                   what="every node ready")
    return nodes


# Diffs that came before the `presence_state` answering a join, by connection (id()).
EARLY: dict[int, list[dict]] = {}


async def join_as(hub, user: str, topic: str, meta=None, limit=None):
    """A connection of `user` that joined `topic` (asking for `limit` members, when given): (ws,
    its client id, the presence_state). In a cluster a diff can come before the state
    (docs/protocol.md): kept for `next_diff`."""
    ws = await ws_connect(hub.ws(), headers=bearer(hs256(SECRET, user)))
    hello = await recv_frame(ws)
    assert hello["type"] == "auth_success", hello
    frame = {"type": "presence_join", "topic": topic, "id": "j"}
    if meta is not None:
        frame["meta"] = meta
    if limit is not None:
        frame["limit"] = limit
    await send(ws, frame)
    early = EARLY.setdefault(id(ws), [])
    while (state := await recv_frame(ws))["type"] == "presence_diff":
        early.append(state)
    assert state["type"] == "presence_state" and state["id"] == "j", state
    return ws, hello["client"], state


async def next_diff(ws, timeout: float = 5.0) -> dict:
    early = EARLY.get(id(ws))
    return early.pop(0) if early else await recv_type(ws, "presence_diff", timeout)


async def join_seen(observer, client: str, timeout: float = 5.0) -> dict:
    return (await all_seen(observer, "joins", {client}, timeout))[-1]


async def leave_seen(observer, client: str, timeout: float = 5.0) -> dict:
    return (await all_seen(observer, "leaves", {client}, timeout))[-1]


async def all_seen(observer, side: str, wanted: set[str], timeout: float = 5.0) -> list[dict]:
    """The diffs `observer` gets until every client of `wanted` is in their `side` ("joins" or
    "leaves"): one diff may carry several, batched in one tick."""
    deadline = time.monotonic() + timeout
    diffs, seen = [], set()
    while not wanted <= seen:
        diff = await next_diff(observer, max(0.05, deadline - time.monotonic()))
        diffs.append(diff)
        seen |= clients(diff[side])
    return diffs


def http_members_once_ready(hub, topic: str) -> set[str] | None:
    """The members, or None while the node's presence is unavailable (503: Redis reconnecting)."""
    r = httpx.get(f"{hub.url}/api/topics/{topic}/presence", headers=bearer(API_KEY), timeout=5)
    if r.status_code == 503 and r.json()["error"]["code"] == "unavailable":
        return None
    assert r.status_code == 200, r.text
    return clients(r.json()["members"])


def http_members(hub, topic: str) -> set[str]:
    members = http_members_once_ready(hub, topic)
    assert members is not None, f"presence on {hub.url} is unavailable"
    return members


async def test_members_on_three_nodes_see_one_list_and_each_others_changes(hub_factory, redis_server):
    a, b, c = await start_cluster(hub_factory, redis_server)
    alice, ca, state = await join_as(a, "alice", "room:one", {"status": "online"})
    assert clients(state["members"]) == {ca}
    bob, cb, state = await join_as(b, "bob", "room:one")
    assert clients(state["members"]) == {ca, cb}
    carol, cc, state = await join_as(c, "carol", "room:one", {"name": "Carol"})
    assert clients(state["members"]) == {ca, cb, cc} and state["count"] == 3 and state["users"] == 3, state
    # Joins made on B and C reach A as diffs; the HTTP list is the cluster's on every node.
    await all_seen(alice, "joins", {cb, cc})
    await all_seen(bob, "joins", {cc})
    for hub in (a, b, c):
        assert http_members(hub, "room:one") == {ca, cb, cc}
    stats = await roundtrip_skip(bob, {"type": "presence_stats", "topic": "room:one", "id": "s"}, "presence_stats")
    assert stats["clients"] == 3 and stats["users"] == 3, stats
    # An update on C: a leave of the old member and a join of the new one, on A and B.
    ack = await roundtrip_skip(carol, {"type": "presence_update", "topic": "room:one", "meta": {"name": "Carol", "status": "away"}, "id": "u"}, "ack")
    assert ack["id"] == "u"
    for observer in (alice, bob):
        diff = await join_seen(observer, cc)
        [new] = diff["joins"]
        assert new["meta"] == {"name": "Carol", "status": "away"} and new["user"] == "carol", diff
    # The member limit (4) holds across nodes.
    dave, cd, _ = await join_as(a, "dave", "room:one")
    eve = await join_as_refused(c, "eve", "room:one")
    assert eve["code"] == "forbidden" and "presence_max_members" in eve["message"], eve
    # Bob closes on B: A and C see him leave.
    await bob.close()
    for observer in (alice, carol):
        await leave_seen(observer, cb)
    assert http_members(c, "room:one") == {ca, cc, cd}
    for ws in (alice, carol, dave):
        await ws.close()


async def join_as_refused(hub, user: str, topic: str) -> dict:
    ws = await ws_connect(hub.ws(), headers=bearer(hs256(SECRET, user)))
    assert (await recv_frame(ws))["type"] == "auth_success"
    err = await roundtrip_skip(ws, {"type": "presence_join", "topic": topic, "id": "j"}, "error")
    await ws.close()
    return err


async def test_a_node_killed_mid_room_has_its_members_leave_within_10_seconds(hub_factory, redis_server):
    a, b, c = await start_cluster(hub_factory, redis_server)
    alice, ca, _ = await join_as(a, "alice", "room:kill")
    bob, cb, _ = await join_as(b, "bob", "room:kill")
    carol, cc, _ = await join_as(c, "carol", "room:kill")
    carol2, cc2, _ = await join_as(c, "carol", "room:kill")
    for observer in (alice, bob):
        await all_seen(observer, "joins", {cc, cc2})
    killed = time.monotonic()
    c.kill()  # SIGKILL: no leave is sent
    for observer in (alice, bob):
        await all_seen(observer, "leaves", {cc, cc2}, timeout=max(0.1, killed + 10 - time.monotonic()))
    elapsed = time.monotonic() - killed
    print(f"the killed node's 2 members left for A and B {elapsed:.1f}s after SIGKILL")
    assert elapsed <= 10, elapsed
    assert http_members(a, "room:kill") == http_members(b, "room:kill") == {ca, cb}
    for ws in (alice, bob):
        await ws.close()


async def test_a_node_restarted_with_its_id_leaves_no_zombie(hub_factory, redis_server):
    a, b, c = await start_cluster(hub_factory, redis_server)
    alice, ca, _ = await join_as(a, "alice", "room:zombie")
    carol, cc, _ = await join_as(c, "carol", "room:zombie")
    await join_seen(alice, cc)
    c.kill()
    restarted = time.monotonic()
    c = start_node(hub_factory, redis_server, "n2")  # at once, before its heartbeat lapses
    # Its first connection to Redis purges what its earlier run held under the same id.
    await leave_seen(alice, cc, timeout=10)
    print(f"a node restarted with its id purged its earlier members {time.monotonic() - restarted:.1f}s after SIGKILL")
    for hub in (a, b, c):
        assert http_members(hub, "room:zombie") == {ca}
    # And it serves presence as before.
    dan, cd, state = await join_as(c, "dan", "room:zombie")
    assert clients(state["members"]) == {ca, cd}
    await join_seen(alice, cd)
    for ws in (alice, dan):
        await ws.close()


async def test_signals_cross_nodes_in_order_and_a_gone_target_is_not_found(hub_factory, redis_server):
    a, b, c = await start_cluster(hub_factory, redis_server)
    alice, ca, _ = await join_as(a, "alice", "room:call")
    carol, cc, _ = await join_as(c, "carol", "room:call")
    # Seen on A before the signals. On a quiet machine the 200 signals and carol's close take
    # less than one presence tick (100 ms), and a join and a leave within one tick cancel out
    # (docs/protocol.md "presence_diff"): alice would hear of neither, and wait for a leave in
    # vain. Checked with a Redis MONITOR: C announced the leave, and alice had got no join either.
    await join_seen(alice, cc)
    outsider, co, _ = await join_as(b, "oscar", "room:other")
    count = 100
    for n in range(count):
        await send(alice, {"type": "signal", "to": cc, "data": {"n": n, "sdp": "offer"}, "id": n})
    acks = [await recv_type(alice, "ack") for _ in range(count)]
    assert [ack["id"] for ack in acks] == list(range(count))
    received = [await recv_type(carol, "signal") for _ in range(count)]
    assert [r["data"]["n"] for r in received] == list(range(count)), "in order from A to C"
    assert received[0] == {"type": "signal", "from": {"user": "alice", "client": ca}, "data": {"n": 0, "sdp": "offer"}}
    for n in range(count):
        await send(carol, {"type": "signal", "to": ca, "data": {"n": n, "sdp": "answer"}, "id": n})
    assert [(await recv_type(carol, "ack"))["id"] for _ in range(count)] == list(range(count))
    back = [await recv_type(alice, "signal") for _ in range(count)]
    assert [r["data"]["n"] for r in back] == list(range(count)), "in order from C to A"
    assert back[0]["from"] == {"user": "carol", "client": cc}
    # No shared presence topic (B's client is in another room), unknown client: not_found.
    err = await roundtrip_skip(outsider, {"type": "signal", "to": ca, "data": {}, "id": "x"}, "error")
    assert err["code"] == "not_found" and err["id"] == "x", err
    err = await roundtrip_skip(alice, {"type": "signal", "to": co, "data": {}, "id": "y"}, "error")
    assert err["code"] == "not_found", err
    # Carol closes on C: once her leave is seen on A, a signal to her is not_found.
    await carol.close()
    await leave_seen(alice, cc, timeout=15.0)
    err = await roundtrip_skip(alice, {"type": "signal", "to": cc, "data": {}, "id": "z"}, "error")
    assert err["code"] == "not_found" and err["id"] == "z", err
    for ws in (alice, outsider):
        await ws.close()


@pytest.mark.parametrize("persistence", ["none", "aof"])
async def test_a_redis_restart_leaves_no_zombie_and_presence_works_again(hub_factory, persistence):
    args = ["--appendonly", "yes", "--appendfsync", "always"] if persistence == "aof" else []
    redis = RedisServer(args).start()
    try:
        a, b, _ = await start_cluster(hub_factory, redis)
        alice, ca, _ = await join_as(a, "alice", "room:restart")
        bob, cb, _ = await join_as(b, "bob", "room:restart")
        await all_seen(alice, "joins", {ca, cb})
        redis.kill()
        err = await roundtrip_skip(alice, {"type": "presence", "topic": "room:restart", "id": "p"}, "error")
        assert err["code"] == "unavailable", err
        r = httpx.get(f"{a.url}/api/topics/room:restart/presence", headers=bearer(API_KEY), timeout=5)
        assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable", r.text
        redis.start()
        # The nodes' clients are told to resynchronise (the broker's rule) and leave as they close;
        # whatever a node could not remove while Redis was away it purges when it reconnects.
        for ws in (alice, bob):
            frame = await recv_type(ws, "disconnect", timeout=20)
            assert frame["reconnect"] is True, frame
            await ws.close()
        # Presence's own Redis connections may come back after the broker's: 503 until then.
        await wait_for(lambda: http_members_once_ready(a, "room:restart") == set() and http_members_once_ready(b, "room:restart") == set(),
                       timeout=10, what="no member left in Redis")
        alice, ca, _ = await join_as(a, "alice", "room:restart")
        bob, cb, state = await join_as(b, "bob", "room:restart")
        assert clients(state["members"]) == {ca, cb}
        await all_seen(alice, "joins", {cb})
        for ws in (alice, bob):
            await ws.close()
    finally:
        redis.close()


async def test_a_burst_of_joins_on_two_nodes_reaches_a_third_as_a_few_diffs_and_signal_round_trips(hub_factory, redis_server):
    """The figures of docs/performance.md ("Presence across nodes"), printed: 1,000 joins sent at
    once on B and C as seen by a member on A, and signal round trips A → C → A beside A → A."""
    a, b, c = await start_cluster(hub_factory, redis_server)
    watcher, cw, _ = await join_as(a, "watcher", "big:burst")
    await all_seen(watcher, "joins", {cw})
    token = bearer(hs256(SECRET, "crowd"))
    sockets = [await RawWebSocket.connect(b if i % 2 else c, headers=token) for i in range(1000)]
    elapsed, frames = await burst_of_joins(watcher, sockets, "big:burst", lambda ws: next_diff(ws, timeout=30.0))
    print(f"\n1000 joins on B and C reached a member on A in {elapsed:.2f}s as {frames} presence_diff frames")
    # (The nodes may still be writing states and diffs to the 1,000 sockets, which read nothing.)
    r = httpx.get(f"{c.url}/api/topics/big:burst/presence", headers=bearer(API_KEY), timeout=60)
    assert r.status_code == 200 and r.json()["count"] == 1001, r.text
    for raw in sockets:
        raw.writer.close()

    alice, ca, _ = await join_as(a, "alice", "room:rtt")
    local, cl, _ = await join_as(a, "lou", "room:rtt")
    carol, cc, _ = await join_as(c, "carol", "room:rtt")

    async def round_trips(peer_ws, peer_client) -> list[float]:
        times = []
        for n in range(200):
            sent = time.perf_counter()
            await send(alice, {"type": "signal", "to": peer_client, "data": {"n": n}})
            got = await recv_type(peer_ws, "signal")
            await send(peer_ws, {"type": "signal", "to": ca, "data": got["data"]})
            back = await recv_type(alice, "signal")
            assert back["data"] == {"n": n}
            times.append((time.perf_counter() - sent) * 1000)
        return sorted(times)

    for name, ws, client in (("A -> A -> A (one node)", local, cl), ("A -> C -> A (two nodes)", carol, cc)):
        times = await round_trips(ws, client)
        print(f"signal round trip {name}: p50 {statistics.median(times):.2f} ms, p99 {times[197]:.2f} ms (200, by the test client)")
    for ws in (watcher, alice, local, carol):
        await ws.close()


async def test_pages_across_nodes_give_the_whole_list(hub_factory, redis_server):
    nodes = await start_cluster(hub_factory, redis_server)
    members = [await join_as(nodes[i % 3], f"u{i % 5}", "big:paged") for i in range(14)]
    walker, w, state = await join_as(nodes[2], "walker", "big:paged")
    whole = [m["client"] for m in state["members"]]
    assert len(whole) == 15 and state["count"] == 15 and state["users"] == 6, state
    # A join with a page, on another node: the oldest 4, the cluster's totals, and a cursor.
    paged, p, first = await join_as(nodes[1], "paged", "big:paged", limit=4)
    assert [m["client"] for m in first["members"]] == whole[:4] and first["count"] == 16 and "next" in first, first
    # Walk pages of 4 from node 1 while a member leaves on node 0 and one joins on node 2.
    churn, left, joined = churn_between_pages(members, 3, lambda: join_as(nodes[2], "late", "big:paged"))
    seen = await walk_pages(paged, "big:paged", 4, first, churn)
    assert len(seen) == len(set(seen)), seen
    assert (set(whole) | {p}) - left <= set(seen)
    # Settled: every node's pages, over the socket and over HTTP, are the one list.
    await wait_for(lambda: all(len(http_members(n, "big:paged")) == 16 + len(joined) - len(left) for n in nodes), what="the leaves applied")
    current = [m["client"] for m in (await roundtrip_skip(walker, {"type": "presence", "topic": "big:paged", "id": "w"}, "presence_state"))["members"]]
    start = await roundtrip_skip(walker, {"type": "presence", "topic": "big:paged", "limit": 3, "id": "f"}, "presence_state")
    assert await walk_pages(walker, "big:paged", 3, start) == current
    for node in nodes:
        assert http_pages(node, "big:paged", 5)[0] == current
    for ws in [ws for ws, c, _ in members if c not in left] + [ws for ws, _, _ in joined] + [walker, paged]:
        await ws.close()


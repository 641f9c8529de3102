"""History and recovery: offsets and epochs, `subscribe` with `since` (per topic and per
pattern), the history API, retention (size and TTL), SSE resume with Last-Event-ID, the SQLite
store's durability across kill -9, its failures (full store, corrupt file) and bad namespaces."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import websockets

from conftest import (Hub, http_publish, parse_metrics, recv_frame, report_crash, roundtrip, run_cli, send,
                      settle, sse_connect, wait_for, ws_connect)

# Namespaces of the shared hub. `news` (not configured) keeps no history.
NAMESPACES = {
    "chat": {"history_size": 1000, "history_ttl": "24h"},
    "small": {"history_size": 5},
    "ttl": {"history_size": 100, "history_ttl": "1s"},
    "big": {"history_size": 100000},
}


def uid() -> str:
    return uuid.uuid4().hex[:10]


def ns_args(namespaces: dict[str, Any]) -> list[str]:
    return ["--namespaces", json.dumps(namespaces)]


@pytest.fixture(scope="module")
def hhub():
    """A development hub with history namespaces and the default store (SQLite in the default
    data dir, ./chorus-data of its own temporary working directory)."""
    h = Hub(ns_args(NAMESPACES)).start()
    yield h
    h.stop()
    report_crash(h)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

async def publish(ws, topic: str, data: Any, *, event: str | None = None, id_: Any = "p") -> dict:
    """Publish on a connection that is NOT subscribed to ``topic``; returns the ack."""
    frame: dict[str, Any] = {"type": "publish", "id": id_, "topic": topic, "data": data}
    if event is not None:
        frame["event"] = event
    reply = await roundtrip(ws, frame)
    assert reply["type"] == "ack" and reply.get("id") == id_, reply
    return reply


async def subscribe_since(ws, topic: str, since: dict | None = None, id_: Any = "s") -> dict:
    """Send ``subscribe`` (with ``since`` when given); the next frame must be its ``subscribed``."""
    frame: dict[str, Any] = {"type": "subscribe", "id": id_, "topic": topic}
    if since is not None:
        frame["since"] = since
    reply = await roundtrip(ws, frame)
    assert reply["type"] == "subscribed" and reply.get("topic") == topic and reply.get("id") == id_, reply
    return reply


async def messages(ws, n: int, timeout: float = 10.0) -> list[dict]:
    """The next ``n`` frames, each of which must be a ``message``."""
    out = []
    deadline = asyncio.get_running_loop().time() + timeout
    while len(out) < n:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            pytest.fail(f"only {len(out)} of {n} messages within {timeout}s: {[m.get('offset') for m in out]}")
        f = await recv_frame(ws, left)
        assert f["type"] == "message", (f, f"after {len(out)} messages")
        out.append(f)
    return out


def offsets(frames: list[dict]) -> list[int]:
    return [f["offset"] for f in frames]


def history_path(topic: str) -> str:
    return f"/api/topics/{quote(topic, safe='')}/history"


async def get_history(hub: Hub, topic: str, **params: Any):
    async with hub.http() as c:
        return await c.get(history_path(topic), params=params)


async def history_ok(hub: Hub, topic: str, **params: Any) -> dict:
    r = await get_history(hub, topic, **params)
    assert r.status_code == 200, (r.status_code, r.text)
    body = r.json()
    assert body.get("topic") == topic, body
    return body


async def whole_history(hub: Hub, topic: str, page: int = 1000) -> tuple[dict, list[dict]]:
    """Walk the history API from the start, passing each page's last offset as ``since``."""
    since, got, first = 0, [], None
    for _ in range(100000 // page + 2):
        body = await history_ok(hub, topic, since=since, limit=page)
        first = first or body
        batch = body["messages"]
        assert len(batch) <= page, (len(batch), page)
        if not batch:
            return first, got
        assert batch[0]["offset"] > since, (since, batch[0])
        got += batch
        since = batch[-1]["offset"]
    pytest.fail("history paging did not end")


async def metrics(hub: Hub) -> dict[str, float]:
    async with hub.http() as c:
        r = await c.get("/metrics")
    assert r.status_code == 200, r.text
    return parse_metrics(r.text)


def assert_consecutive(offs: list[int], start: int, what: str = "offsets") -> None:
    expected = list(range(start, start + len(offs)))
    if offs != expected:
        bad = next(i for i, (a, b) in enumerate(zip(offs, expected)) if a != b)
        pytest.fail(f"{what} not consecutive from {start}: at index {bad} got {offs[max(0, bad - 3):bad + 4]}, "
                    f"expected {expected[max(0, bad - 3):bad + 4]}")


# --------------------------------------------------------------------------------------------
# offsets, epochs, subscribe
# --------------------------------------------------------------------------------------------

async def test_publish_to_history_topic_acks_offset_and_epoch(hhub):
    topic = f"chat:{uid()}"
    async with await ws_connect(hhub.ws_url) as watcher, await ws_connect(hhub.ws_url) as pub:
        await subscribe_since(watcher, topic)
        acks = [await publish(pub, topic, {"n": i}, id_=i) for i in range(5)]
        assert [a["offset"] for a in acks] == [1, 2, 3, 4, 5], acks
        epoch = acks[0]["epoch"]
        assert isinstance(epoch, str) and epoch, acks[0]
        assert {a["epoch"] for a in acks} == {epoch}, acks
        assert len({a["message_id"] for a in acks}) == 5, acks

        got = await messages(watcher, 5)
        assert [(m["topic"], m["offset"], m["epoch"], m["message_id"], m["data"]) for m in got] == [
            (topic, i + 1, epoch, acks[i]["message_id"], {"n": i}) for i in range(5)]

        # offsets are per topic: another topic of the namespace starts at 1
        other = await publish(pub, f"chat:{uid()}", "x")
        assert other["offset"] == 1 and isinstance(other["epoch"], str), other
        # and `chat.x` (namespace up to the first '.') is a history topic too
        dotted = await publish(pub, f"chat.{uid()}", "y")
        assert dotted["offset"] == 1 and dotted.get("epoch"), dotted


async def _check_no_history_topic(h: Hub, topic: str) -> None:
    async with await ws_connect(h.ws_url) as watcher, await ws_connect(h.ws_url) as pub:
        sub = await subscribe_since(watcher, topic)
        assert "offset" not in sub and "epoch" not in sub, sub
        ack = await publish(pub, topic, {"plain": True})
        assert "offset" not in ack and "epoch" not in ack and ack["message_id"], ack
        msg = (await messages(watcher, 1))[0]
        assert msg["data"] == {"plain": True} and msg["message_id"] == ack["message_id"], msg
        assert "offset" not in msg and "epoch" not in msg, msg
        async with h.http() as c:
            r = await c.post("/api/publish", json={"topic": topic, "data": 2})
        assert r.status_code == 200, r.text
        assert "offset" not in r.json() and "epoch" not in r.json(), r.json()
        msg = (await messages(watcher, 1))[0]
        assert msg["data"] == 2 and "offset" not in msg and "epoch" not in msg, msg
    r = await get_history(h, topic)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", (r.status_code, r.text)


async def test_topics_without_history_have_no_offset_or_epoch(hhub):
    await _check_no_history_topic(hhub, f"news:{uid()}")


async def test_history_size_zero_keeps_none_and_one_keeps_one(hub_factory, tmp_path):
    """`history_size: 0` is the documented "keeps none" value (and 1 keeps just the last)."""
    h = hub_factory(ns_args({"zero": {"history_size": 0}, "one": {"history_size": 1}}), cwd=tmp_path)
    await _check_no_history_topic(h, "zero:x")
    async with await ws_connect(h.ws_url) as pub:
        acks = [await publish(pub, "one:x", i, id_=i) for i in range(3)]
    assert [a["offset"] for a in acks] == [1, 2, 3], acks
    body = await history_ok(h, "one:x")
    assert [(m["offset"], m["data"]) for m in body["messages"]] == [(3, 2)] and body["last_offset"] == 3, body


async def test_a_subscriber_of_an_empty_topic_recovers_its_first_messages(hhub):
    """An empty topic's epoch is given at subscribe, so a client that subscribed before the
    first message and lost its connection resumes from offset 0 and misses nothing."""
    topic = f"chat:{uid()}"
    async with await ws_connect(hhub.ws_url) as client:
        sub = await subscribe_since(client, topic)
    assert sub["offset"] == 0 and sub["epoch"], sub
    async with await ws_connect(hhub.ws_url) as pub:
        acks = [await publish(pub, topic, i, id_=i) for i in range(3)]
    async with await ws_connect(hhub.ws_url) as client:
        back = await subscribe_since(client, topic, {"offset": 0, "epoch": sub["epoch"]})
        assert back["recovered"] is True and back["offset"] == 3, back
        replayed = await messages(client, 3)
        assert [m["data"] for m in replayed] == [0, 1, 2] and [m["message_id"] for m in replayed] == [a["message_id"] for a in acks]


async def test_subscribe_reports_last_offset_then_live_messages_above_it(hhub):
    topic = f"chat:{uid()}"
    async with await ws_connect(hhub.ws_url) as first, await ws_connect(hhub.ws_url) as pub:
        sub = await subscribe_since(first, topic)
        # Nothing published yet: offset 0, and the epoch the first message will have.
        assert sub.get("offset") == 0 and sub.get("epoch"), sub
        acks = [await publish(pub, topic, i, id_=i) for i in range(3)]
        assert offsets(await messages(first, 3)) == [1, 2, 3]
        assert {a["epoch"] for a in acks} == {sub["epoch"]}, acks

        async with await ws_connect(hhub.ws_url) as second:
            sub = await subscribe_since(second, topic)
            assert sub.get("offset") == 3 and sub.get("epoch") == acks[0]["epoch"], sub
            more = [await publish(pub, topic, i, id_=i) for i in range(3, 5)]
            live = await messages(second, 2)
            assert offsets(live) == [4, 5] and all(m["offset"] > sub["offset"] for m in live), live
            assert [m["message_id"] for m in live] == [a["message_id"] for a in more]


async def test_connect_time_subscription_reports_offset_and_epoch(hhub):
    """`?topic=` subscribes as if a `subscribe` frame had been sent: same `subscribed` fields."""
    topic = f"chat:{uid()}"
    async with await ws_connect(hhub.ws_url) as pub:
        acks = [await publish(pub, topic, i, id_=i) for i in range(2)]
        async with await ws_connect(hhub.ws(topics=[topic])) as ws:
            sub = await recv_frame(ws)
            assert sub["type"] == "subscribed" and sub["topic"] == topic, sub
            assert sub.get("offset") == 2 and sub.get("epoch") == acks[0]["epoch"], sub
            await publish(pub, topic, "live", id_="l")
            msg = (await messages(ws, 1))[0]
            assert msg["offset"] == 3 and msg["data"] == "live", msg


async def test_http_publish_returns_offset_and_epoch(hhub):
    topic = f"chat:{uid()}"
    async with await ws_connect(hhub.ws_url) as watcher, await ws_connect(hhub.ws_url) as pub:
        await subscribe_since(watcher, topic)
        first = await publish(pub, topic, "ws")
        async with hhub.http() as c:
            r = await c.post("/api/publish", json={"topic": topic, "event": "upd", "data": {"via": "http"}})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body.get("offset") == 2 and body.get("epoch") == first["epoch"] and body.get("message_id"), body
        got = await messages(watcher, 2)
        assert [(m["offset"], m["epoch"]) for m in got] == [(1, first["epoch"]), (2, first["epoch"])], got
        assert got[1]["message_id"] == body["message_id"] and got[1]["event"] == "upd", got[1]


# --------------------------------------------------------------------------------------------
# recovery with since {offset, epoch}
# --------------------------------------------------------------------------------------------

async def test_recovery_replays_missed_messages_then_live(hhub):
    topic = f"chat:{uid()}"
    async with await ws_connect(hhub.ws_url) as witness, await ws_connect(hhub.ws_url) as pub:
        await subscribe_since(witness, topic)
        async with await ws_connect(hhub.ws_url) as client:
            await subscribe_since(client, topic)
            for i in range(3):
                await publish(pub, topic, {"i": i}, id_=i)
            last = (await messages(client, 3))[-1]
        # the client is gone; five messages go by
        for i in range(3, 8):
            await publish(pub, topic, {"i": i}, id_=i)
        seen = await messages(witness, 8)

        async with await ws_connect(hhub.ws_url) as client:
            sub = await subscribe_since(client, topic, {"offset": last["offset"], "epoch": last["epoch"]}, id_="r")
            assert sub.get("recovered") is True, sub
            assert sub.get("epoch") == last["epoch"] and sub.get("offset") == 8, sub
            replay = await messages(client, 5)
            assert replay == seen[3:], "replayed frames must be the frames live subscribers got"
            live_ack = await publish(pub, topic, "live", id_="live")
            live = (await messages(client, 1))[0]
            assert live["offset"] == 9 and live["message_id"] == live_ack["message_id"], live

        # since offset 0 with the epoch: the whole (fully retained) history
        async with await ws_connect(hhub.ws_url) as client:
            sub = await subscribe_since(client, topic, {"offset": 0, "epoch": last["epoch"]})
            assert sub.get("recovered") is True, sub
            assert offsets(await messages(client, 9)) == list(range(1, 10))


async def test_recovery_when_up_to_date_replays_nothing(hhub):
    topic = f"chat:{uid()}"
    async with await ws_connect(hhub.ws_url) as pub, await ws_connect(hhub.ws_url) as client:
        acks = [await publish(pub, topic, i, id_=i) for i in range(3)]
        sub = await subscribe_since(client, topic, {"offset": 3, "epoch": acks[0]["epoch"]})
        assert sub.get("recovered") is True and sub.get("offset") == 3, sub
        await publish(pub, topic, "next")
        nxt = await recv_frame(client)
        assert nxt["type"] == "message" and nxt["offset"] == 4 and nxt["data"] == "next", \
            f"nothing may be replayed before the live message: {nxt}"


async def test_recovery_with_another_epoch_is_refused_without_replay(hhub):
    topic = f"chat:{uid()}"
    async with await ws_connect(hhub.ws_url) as pub:
        acks = [await publish(pub, topic, i, id_=i) for i in range(3)]
        epoch = acks[0]["epoch"]
        cases = [{"offset": 1, "epoch": epoch + "x"},     # another epoch
                 {"offset": 0, "epoch": "not-the-epoch"},
                 {"offset": 99, "epoch": epoch}]           # beyond the last offset: never existed
        for n, since in enumerate(cases):
            async with await ws_connect(hhub.ws_url) as client:
                sub = await subscribe_since(client, topic, since)
                assert sub.get("recovered") is False, (since, sub)
                assert sub.get("epoch") == epoch and sub.get("offset") == 3 + n, (since, sub)
                ack = await publish(pub, topic, f"live{n}", id_=n)
                nxt = await recv_frame(client)
                assert nxt["type"] == "message" and nxt["message_id"] == ack["message_id"], \
                    f"no replay after recovered:false, the next frame must be the live message: {nxt}"
                assert nxt["offset"] == 4 + n, nxt


async def test_recovery_from_trimmed_offset_is_refused(hhub):
    topic = f"small:{uid()}"   # history_size 5
    async with await ws_connect(hhub.ws_url) as pub:
        acks = [await publish(pub, topic, i, id_=i) for i in range(12)]
        epoch = acks[0]["epoch"]
        assert [a["offset"] for a in acks] == list(range(1, 13))
        # 8..12 retained: recovering from 7 is complete
        async with await ws_connect(hhub.ws_url) as client:
            sub = await subscribe_since(client, topic, {"offset": 7, "epoch": epoch})
            assert sub.get("recovered") is True, sub
            assert offsets(await messages(client, 5)) == [8, 9, 10, 11, 12]
        # from 6 it would need offset 7, which is gone: no partial replay
        for since_offset, live_offset in ((6, 13), (2, 14)):
            async with await ws_connect(hhub.ws_url) as client:
                sub = await subscribe_since(client, topic, {"offset": since_offset, "epoch": epoch})
                assert sub.get("recovered") is False, (since_offset, sub)
                ack = await publish(pub, topic, "live", id_="live")
                nxt = await recv_frame(client)
                assert nxt["type"] == "message" and nxt["offset"] == live_offset == ack["offset"], \
                    f"no replay after recovered:false (since {since_offset}): {nxt}"


async def test_malformed_since_is_a_bad_request(hhub):
    topic = f"chat:{uid()}"
    async with await ws_connect(hhub.ws_url) as ws:
        for n, since in enumerate(["yesterday", 5, [1], {"offset": -1, "epoch": "e"}, {"offset": "3", "epoch": "e"},
                                   {"offset": 1.5, "epoch": "e"}, {"epoch": "e"}, {"ts": "now"}]):
            reply = await roundtrip(ws, {"type": "subscribe", "id": n, "topic": topic, "since": since})
            assert reply["type"] == "error" and reply.get("code") == "bad_request" and reply.get("id") == n, (since, reply)
        assert (await roundtrip(ws, {"type": "ping", "id": "still-open"}))["type"] == "pong"


async def hammer(ws_url: str, topics: list[str], acked: dict[str, dict[int, str]], stop: asyncio.Event, *,
                 pause: float = 0.002, data=lambda n: n, errors: list[dict] | None = None) -> None:
    """Publishes to `topics` in turn, at most 8 unacknowledged at a time, until `stop` is set;
    records acked[topic][offset] = message_id, and any reply that is not an ack in `errors`
    (or fails at once without that list). Returns once every publish is answered."""
    async with await ws_connect(ws_url) as ws:
        window, sent, done = asyncio.Semaphore(8), 0, 0

        async def reader():
            nonlocal done
            while True:
                f = await recv_frame(ws, 15)
                if f["type"] == "ack":
                    acked[topics[f["id"] % len(topics)]][f["offset"]] = f["message_id"]
                elif errors is not None:
                    errors.append(f)
                else:
                    raise AssertionError(f"a publish was not acknowledged: {f}")
                done += 1
                window.release()

        rt = asyncio.create_task(reader())
        try:
            while not stop.is_set():
                await window.acquire()
                await send(ws, {"type": "publish", "id": sent, "topic": topics[sent % len(topics)], "data": data(sent)})
                sent += 1
                await asyncio.sleep(pause)   # a steady few hundred a second
            await wait_for(lambda: done == sent, timeout=15, what="the publisher's acks")
        finally:
            await settle(rt)


async def test_recovery_seam_under_concurrent_publishing(hhub):
    """Publishers hammer a topic while a client keeps dropping and recovering: every session's
    offsets run exactly from since+1 upward, and together they cover everything once."""
    topic = f"big:{uid()}"
    rnd = random.Random(7)
    stop = asyncio.Event()
    acked_by_topic: dict[str, dict[int, str]] = {topic: {}}
    acked = acked_by_topic[topic]
    ack_errors: list[dict] = []

    hammers = [asyncio.create_task(hammer(hhub.ws_url, [topic], acked_by_topic, stop, data=lambda n, ci=ci: {"c": ci, "n": n},
                                          errors=ack_errors)) for ci in range(2)]
    received: dict[int, str] = {}
    try:
        await wait_for(lambda: len(acked) >= 50, timeout=10, what="the first acks")
        ws = await ws_connect(hhub.ws_url)
        sub = await subscribe_since(ws, topic)
        epoch = sub["epoch"]
        expected_next = None
        sessions = 0
        for round_ in range(30):
            # read through the seam: past the offset `subscribed` reported, into live messages
            target = sub["offset"] + rnd.randint(5, 80)
            batch = [(await messages(ws, 1))[0]]
            if expected_next is None:   # plain subscribe: live ones above the reported offset
                assert batch[0]["offset"] > sub["offset"], (sub, batch[0])
                expected_next = batch[0]["offset"]
            while batch[-1]["offset"] < target:
                batch.append((await messages(ws, 1))[0])
            assert_consecutive(offsets(batch), expected_next, f"session {sessions} offsets")
            assert {m["epoch"] for m in batch} == {epoch}
            for m in batch:
                assert received.setdefault(m["offset"], m["message_id"]) == m["message_id"], m
            last = batch[-1]["offset"]
            # drop the connection (politely or not) and come back from a point at or before `last`
            if round_ % 2:
                ws.transport.abort()
            else:
                await ws.close()
            since = max(0, last - rnd.choice([0, 0, 1, 5, 30, 200]))
            ws = await ws_connect(hhub.ws_url)
            sub = await subscribe_since(ws, topic, {"offset": since, "epoch": epoch})
            assert sub.get("recovered") is True, (since, sub)
            assert sub.get("offset", 0) >= last, sub
            expected_next = since + 1
            sessions += 1
        stop.set()
        await asyncio.wait_for(asyncio.gather(*hammers), 30)
        assert not ack_errors, ack_errors[:3]
        final = max(acked)
        assert sorted(acked) == list(range(1, final + 1)), "acked offsets must be 1..last without gaps"
        tail = await messages(ws, final - expected_next + 1, timeout=20)
        assert_consecutive(offsets(tail), expected_next, "last session offsets")
        for m in tail:
            received.setdefault(m["offset"], m["message_id"])
        await ws.close()
        lo = min(received)
        assert sorted(received) == list(range(lo, final + 1))
        wrong = [o for o, mid in received.items() if acked[o] != mid]
        assert not wrong, f"message ids differ from the acks at offsets {wrong[:5]}"
    finally:
        stop.set()
        await settle(*hammers)


async def test_pattern_subscription_since_ts_replays_matching_history_topics(hhub):
    u = uid()
    a, b, deep = f"chat.{u}.a", f"chat.{u}.b", f"chat.{u}.b.deep"
    one, many = f"chat.{u}.*", f"chat.{u}.**"
    async with await ws_connect(hhub.ws_url) as witness, await ws_connect(hhub.ws_url) as pub:
        await subscribe_since(witness, many)
        for t in (a, b):
            await publish(pub, t, f"old-{t}")
        old = await messages(witness, 2)
        cut = max(m["ts"] for m in old)
        await wait_for(lambda: time.time() * 1000 >= cut + 2, timeout=2, interval=0.002, what="the clock to move on")
        plan = [(a, 1), (b, 2), (deep, 3), (a, 4), (b, 5)]
        for t, n in plan:
            await publish(pub, t, {"n": n})
        new = await messages(witness, 5)
        assert all(m["ts"] > cut for m in new), (cut, new)

        def strip(m: dict) -> dict:
            return {k: v for k, v in m.items() if k != "sub"}

        cases = ((one, [new[0], new[1], new[3], new[4]]), (many, new))
        clients = [await ws_connect(hhub.ws_url) for _ in cases]
        try:
            for client, (pattern, want) in zip(clients, cases):
                sub = await subscribe_since(client, pattern, {"ts": cut})
                assert sub.get("recovered") is True, sub
                replay = await messages(client, len(want))
                assert [strip(m) for m in replay] == [strip(m) for m in want], (pattern, replay)
                assert all(m.get("sub") == pattern for m in replay), replay
                assert all(isinstance(m.get("offset"), int) and m.get("epoch") for m in replay), replay
            # then live, once, with the subscription's pattern
            ack = await publish(pub, b, "live", id_="live")
            for client, (pattern, _) in zip(clients, cases):
                live = await recv_frame(client)
                assert live["type"] == "message" and live["message_id"] == ack["message_id"], live
                assert live["offset"] == ack["offset"] == 4 and live["sub"] == pattern, live
        finally:
            for client in clients:
                await client.close()
        # `*` is a whole segment, or follows a `:` that ends the segment's text: `chat*` is no pattern
        bad = await roundtrip(pub, {"type": "subscribe", "id": "bad", "topic": "chat*", "since": {"ts": cut}})
        assert bad["type"] == "error" and bad.get("code") == "bad_request", bad


async def test_pattern_recovery_seam_under_concurrent_publishing(hhub):
    """A pattern subscription with since {ts: 0} while two of its topics are hammered: per
    topic, replay then live runs 1, 2, 3 ... with no gap and no duplicate."""
    u = uid()
    topics = [f"big.{u}.a", f"big.{u}.b"]
    pattern = f"big.{u}.*"
    stop = asyncio.Event()
    acked: dict[str, dict[int, str]] = {t: {} for t in topics}

    task = asyncio.create_task(hammer(hhub.ws_url, topics, acked, stop))
    try:
        await wait_for(lambda: len(acked[topics[1]]) >= 30, timeout=10, what="the first acks")
        for _ in range(4):
            async with await ws_connect(hhub.ws_url) as client:
                sub = await subscribe_since(client, pattern, {"ts": 0})
                assert sub.get("recovered") is True, sub
                targets = {t: max(acked[t]) + 40 for t in topics}   # well into live messages
                seen: dict[str, list[int]] = {t: [] for t in topics}
                while any(not seen[t] or seen[t][-1] < targets[t] for t in topics):
                    m = (await messages(client, 1, timeout=10))[0]
                    assert m["sub"] == pattern and m["topic"] in seen, m
                    assert acked[m["topic"]].get(m["offset"], m["message_id"]) == m["message_id"], m
                    seen[m["topic"]].append(m["offset"])
                for t in topics:
                    assert_consecutive(seen[t], 1, f"{t} offsets (replay, then live)")
    finally:
        stop.set()
        await settle(task)


# --------------------------------------------------------------------------------------------
# the history API
# --------------------------------------------------------------------------------------------

async def test_history_api_returns_message_frames(hhub):
    topic = f"chat:{uid()}@x=y"     # percent-encoded in the path: ':' '@' '='
    async with await ws_connect(hhub.ws_url) as witness, await ws_connect(hhub.ws_url) as pub:
        await subscribe_since(witness, topic)
        for i in range(3):
            await publish(pub, topic, {"i": i}, id_=i)
        for i in range(3, 5):
            await http_publish(hhub, topic, {"i": i}, event="upd")
        frames = await messages(witness, 5)
    body = await history_ok(hhub, topic)
    assert body.get("epoch") == frames[0]["epoch"] and body.get("last_offset") == 5, body
    assert body["messages"] == frames, "history entries must be the message frames subscribers got"

    body = await history_ok(hhub, topic, since=2, limit=2)
    assert body["messages"] == frames[2:4]
    assert body["last_offset"] == 5
    body = await history_ok(hhub, topic, since=5)
    assert body["messages"] == [] and body["last_offset"] == 5 and body["epoch"] == frames[0]["epoch"], body


async def test_history_api_paging_walks_whole_history_once(hhub):
    topic = f"chat:{uid()}"
    total = 250
    async with await ws_connect(hhub.ws_url) as pub:
        for i in range(total):
            await send(pub, {"type": "publish", "id": i, "topic": topic, "data": i})
        acks = [await recv_frame(pub, 10) for _ in range(total)]
    assert all(a["type"] == "ack" for a in acks), [a for a in acks if a["type"] != "ack"][:3]
    mid_by_offset = {a["offset"]: a["message_id"] for a in acks}
    assert sorted(mid_by_offset) == list(range(1, total + 1))

    _, walked = await whole_history(hhub, topic, page=7)
    assert offsets(walked) == list(range(1, total + 1))
    assert [m["message_id"] for m in walked] == [mid_by_offset[o] for o in range(1, total + 1)]
    assert sorted(m["data"] for m in walked) == list(range(total))

    default = await history_ok(hhub, topic)          # since=0, limit=100
    assert offsets(default["messages"]) == list(range(1, 101)), offsets(default["messages"])
    assert default["last_offset"] == total
    everything = await history_ok(hhub, topic, limit=1000)
    assert offsets(everything["messages"]) == list(range(1, total + 1))
    tail = await history_ok(hhub, topic, since=240)
    assert offsets(tail["messages"]) == list(range(241, 251))


async def test_history_api_rejects_bad_requests(hhub):
    topic = f"chat:{uid()}"
    async with await ws_connect(hhub.ws_url) as pub:
        await publish(pub, topic, 1)
    async with hhub.http() as c:
        for params in ({"since": "-1"}, {"since": "abc"}, {"since": "1.5"}, {"since": ""},
                       {"limit": "-1"}, {"limit": "abc"}, {"limit": "1001"}, {"limit": "100000"}):
            r = await c.get(history_path(topic), params=params)
            assert r.status_code == 400, (params, r.status_code, r.text)
            assert r.json()["error"]["code"] == "bad_request", (params, r.text)
        r = await c.get(history_path(topic), params={"limit": "1000"})
        assert r.status_code == 200, r.text

        for no_history in (f"news:{uid()}", f"news.{uid()}"):
            r = await c.get(history_path(no_history))
            assert r.status_code == 404, (no_history, r.status_code, r.text)
            assert r.json()["error"]["code"] == "not_found", r.text

        for invalid in ("chat..x", "chat: x", "chat.*", "chat.**", "a" * 300):
            r = await c.get(history_path(invalid))
            assert r.status_code == 400, (invalid, r.status_code, r.text)
            assert r.json()["error"]["code"] == "bad_request", (invalid, r.text)


async def test_history_api_topic_without_messages_yet(hhub):
    """A history topic nothing was published to: an empty history at offset 0 (like `subscribe`)."""
    topic = f"chat:{uid()}"
    body = await history_ok(hhub, topic)
    assert body["messages"] == [] and body.get("last_offset") == 0, body


# --------------------------------------------------------------------------------------------
# retention
# --------------------------------------------------------------------------------------------

async def test_history_size_keeps_only_the_last_messages(hhub):
    topic = f"small:{uid()}"   # history_size 5
    async with await ws_connect(hhub.ws_url) as pub:
        acks = [await publish(pub, topic, i, id_=i) for i in range(12)]
    body = await history_ok(hhub, topic)
    assert offsets(body["messages"]) == [8, 9, 10, 11, 12], body
    assert [m["data"] for m in body["messages"]] == [7, 8, 9, 10, 11]
    assert [m["message_id"] for m in body["messages"]] == [a["message_id"] for a in acks[7:]]
    assert body["last_offset"] == 12
    assert offsets((await history_ok(hhub, topic, since=9))["messages"]) == [10, 11, 12]


async def test_history_ttl_trims_in_the_background(hhub):
    topic = f"ttl:{uid()}"    # history_ttl 1s
    async with await ws_connect(hhub.ws_url) as pub:
        acks = [await publish(pub, topic, i, id_=i) for i in range(3)]
        epoch = acks[0]["epoch"]
        # (published a moment ago: still there; the TTL is a second)
        first = await history_ok(hhub, topic)
        assert offsets(first["messages"]) == [1, 2, 3], first

        async def gone():
            return (await history_ok(hhub, topic))["messages"] == []
        await wait_for(gone, timeout=10, interval=0.2, what="messages older than history_ttl to be trimmed")

        # Trimmed empty, the topic is forgotten (issue #21): a new publish starts a new epoch,
        # so no old position recovers, not even the newest one.
        body = await history_ok(hhub, topic)
        assert body["last_offset"] == 0 and body["epoch"] is None, body
        nxt = await publish(pub, topic, "after")
        assert nxt["offset"] == 1 and nxt["epoch"] != epoch, nxt
        for since in (1, 3):
            async with await ws_connect(hhub.ws_url) as client:
                sub = await subscribe_since(client, topic, {"offset": since, "epoch": epoch})
                assert sub.get("recovered") is False and sub.get("epoch") == nxt["epoch"], sub
        async with await ws_connect(hhub.ws_url) as client:
            sub = await subscribe_since(client, topic, {"offset": 0, "epoch": nxt["epoch"]})
            assert sub.get("recovered") is True, sub
            assert offsets(await messages(client, 1)) == [1]


# --------------------------------------------------------------------------------------------
# SSE
# --------------------------------------------------------------------------------------------

async def _subscribers(hub: Hub, topic: str) -> int:
    async with hub.http() as c:
        topics = (await c.get("/api/topics")).json()["topics"]
    return next((t["subscribers"] for t in topics if t["topic"] == topic), 0)


async def test_sse_last_event_id_resumes_history_topics(hhub):
    u = uid()
    a, b = f"chat:{u}a", f"chat:{u}b"
    mids: dict[str, str] = {}
    async with sse_connect(hhub, topics=[a, b]) as stream:
        await wait_for(lambda: _subscribers(hhub, b), what="SSE subscriber")
        for name, topic in (("a1", a), ("b1", b), ("a2", a)):
            mids[name] = await http_publish(hhub, topic, name)
        events = [await stream.next_event() for _ in range(3)]
        for ev in events:
            assert ev.id is not None and ev.id.isdigit(), f"SSE id of a history topic must be a decimal number: {ev.id!r}"
            frame = ev.json()
            assert isinstance(frame.get("offset"), int) and frame.get("epoch"), frame
        assert [ev.json()["message_id"] for ev in events] == [mids["a1"], mids["b1"], mids["a2"]]
        resume_from = events[1].id            # after b1
    for name, topic in (("b2", b), ("a3", a), ("b3", b)):
        mids[name] = await http_publish(hhub, topic, name)

    async with sse_connect(hhub, topics=[a, b], headers={"Last-Event-ID": resume_from}) as stream:
        replay = [await stream.next_event() for _ in range(4)]
        assert [ev.json()["data"] for ev in replay] == ["a2", "b2", "a3", "b3"], [ev.data for ev in replay]
        assert [ev.json()["message_id"] for ev in replay] == [mids[n] for n in ("a2", "b2", "a3", "b3")]
        assert all(ev.id and ev.id.isdigit() for ev in replay), [ev.id for ev in replay]
        mids["a4"] = await http_publish(hhub, a, "a4")
        live = await stream.next_event()
        assert live.json()["message_id"] == mids["a4"], f"expected the live a4 next (no duplicate): {live.data}"


async def test_sse_resume_under_concurrent_publishing(hhub):
    """An SSE client that keeps reconnecting with Last-Event-ID while a publisher hammers its
    history topic sees every offset exactly once, in order."""
    topic = f"big:{uid()}"
    rnd = random.Random(11)
    stop = asyncio.Event()
    acked_by_topic: dict[str, dict[int, str]] = {topic: {}}
    acked = acked_by_topic[topic]

    task = asyncio.create_task(hammer(hhub.ws_url, [topic], acked_by_topic, stop, pause=0.003))
    got: list[tuple[int, str]] = []
    last_id = None
    try:
        await wait_for(lambda: len(acked) >= 20, timeout=10, what="the first acks")
        for round_ in range(8):
            headers = {"Last-Event-ID": last_id} if last_id else None
            async with sse_connect(hhub, topics=[topic], headers=headers) as stream:
                for _ in range(rnd.randint(10, 80)):
                    ev = await stream.next_event(timeout=5)
                    assert ev.id and ev.id.isdigit(), ev
                    f = ev.json()
                    got.append((f["offset"], f["message_id"]))
                    last_id = ev.id
        stop.set()
        await asyncio.wait_for(task, 30)
        final = max(acked)
        async with sse_connect(hhub, topics=[topic], headers={"Last-Event-ID": last_id}) as stream:
            while got[-1][0] < final:
                f = (await stream.next_event(timeout=10)).json()
                got.append((f["offset"], f["message_id"]))
        assert_consecutive([o for o, _ in got], got[0][0], "offsets across SSE reconnections")
        assert all(acked[o] == mid for o, mid in got), "message ids differ from the acks"
    finally:
        stop.set()
        await settle(task)


# --------------------------------------------------------------------------------------------
# store failures
# --------------------------------------------------------------------------------------------

async def test_full_store_fails_history_publishes_and_hub_keeps_serving(hub_factory, tmp_path):
    h = hub_factory([*ns_args({"chat": {"history_size": 100000}}), "--max-store-size", "64KiB"], cwd=tmp_path)
    topic, plain = "chat:full", "news:alive"
    before = (await metrics(h)).get("chorus_store_failures_total")
    assert before is not None, "chorus_store_failures_total missing from /metrics"
    pad = "x" * 2000
    async with await ws_connect(h.ws_url) as watcher, await ws_connect(h.ws_url) as pub:
        await subscribe_since(watcher, topic, id_=1)
        await subscribe_since(watcher, plain, id_=2)
        acked, failure = [], None
        for i in range(400):      # 800 KB of payload: far beyond 64 KiB
            reply = await roundtrip(pub, {"type": "publish", "id": i, "topic": topic, "data": {"i": i, "pad": pad}})
            if reply["type"] == "ack":
                acked.append(reply)
                continue
            failure = reply
            break
        assert failure is not None, f"{len(acked)} publishes of 2 KB all stored with --max-store-size 64KiB"
        assert failure["type"] == "error" and failure.get("code") == "internal" and failure.get("id") == i, failure
        assert [a["offset"] for a in acked] == list(range(1, len(acked) + 1)), "failed publishes take no offset"
        # still full
        again = await roundtrip(pub, {"type": "publish", "id": "again", "topic": topic, "data": {"pad": pad}})
        assert again["type"] == "error" and again.get("code") == "internal", again
        async with h.http() as c:
            r = await c.post("/api/publish", json={"topic": topic, "data": {"pad": pad}})
        assert r.status_code == 500, (r.status_code, r.text)
        assert r.json()["error"]["code"] == "internal", r.text

        await wait_for(lambda: _failures_above(h, before), timeout=5, what="chorus_store_failures_total to grow")

        # topics without history are unaffected, and nothing unstored was delivered
        ack = await publish(pub, plain, "still here", id_="plain")
        assert "offset" not in ack, ack
        frames = []
        while True:
            f = await recv_frame(watcher)
            assert f["type"] == "message", f
            if f["topic"] == plain:
                break
            frames.append(f)
        assert f["message_id"] == ack["message_id"]
        assert offsets(frames) == [a["offset"] for a in acked], "only stored messages may be delivered"
        async with h.http() as c:
            r = await c.post("/api/publish", json={"topic": plain, "data": "http too"})
        assert r.status_code == 200, r.text
        assert (await messages(watcher, 1))[0]["data"] == "http too"

    body = await history_ok(h, topic)
    assert body["last_offset"] == len(acked) and offsets(body["messages"]) == list(range(1, len(acked) + 1)), body
    assert h.running


async def _failures_above(h: Hub, before: float) -> bool:
    return (await metrics(h)).get("chorus_store_failures_total", 0) > before


# --------------------------------------------------------------------------------------------
# durability and restarts
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sync", ["default", "normal"])
async def test_acknowledged_messages_survive_kill9(restartable_hub, tmp_path, sync):
    """SQLite store (the default), store_sync full (the default) or normal: 4 clients publish
    10,000 messages; the hub is SIGKILLed after 4,000 acks with publishes in flight; after a
    restart on the same data dir and port every acknowledged message is there, at its offset,
    in the same epoch, and recovery works."""
    data_dir = tmp_path / "data"
    extra = [] if sync == "default" else ["--store-sync", sync]
    r = restartable_hub([*ns_args({"dur": {"history_size": 20000}}), "--data-dir", str(data_dir), *extra],
                        cwd=tmp_path)
    h = r.start()
    topic = "dur:orders"
    clients, per_client, kill_at = 4, 2500, 4000
    sent: dict[str, dict] = {}
    acks: dict[str, dict] = {}
    other: list[dict] = []
    killed = {"in_flight": None}

    async def client(ci: int, ws) -> None:
        async def reader():
            try:
                while True:
                    f = json.loads(await ws.recv())
                    if f["type"] != "ack":
                        other.append(f)
                        continue
                    acks[f["id"]] = f
                    if len(acks) >= kill_at and killed["in_flight"] is None:
                        killed["in_flight"] = len(sent) - len(acks)
                        r.kill9()
            except websockets.ConnectionClosed:
                pass

        rt = asyncio.create_task(reader())
        try:
            for i in range(per_client):
                key = f"{ci}-{i}"
                data = {"c": ci, "i": i, "pad": "p" * 24}
                sent[key] = data
                await ws.send(json.dumps({"type": "publish", "id": key, "topic": topic, "data": data}))
                if i % 25 == 0:
                    await asyncio.sleep(0)
        except websockets.ConnectionClosed:
            pass
        await asyncio.wait_for(rt, 30)

    conns = [await ws_connect(h.ws_url) for _ in range(clients)]     # all connected before any publish
    await asyncio.wait_for(asyncio.gather(*(client(ci, ws) for ci, ws in enumerate(conns))), 60)
    assert killed["in_flight"] is not None, f"the hub was never killed ({len(acks)} acks)"
    assert killed["in_flight"] > 0, "setup: publishes should still be in flight at the kill"
    assert not other, other[:3]
    epochs = {a["epoch"] for a in acks.values()}
    assert len(epochs) == 1, epochs
    epoch = epochs.pop()
    ack_offsets = sorted(a["offset"] for a in acks.values())
    assert len(set(ack_offsets)) == len(ack_offsets), "two acks with one offset"
    max_acked = ack_offsets[-1]

    h = r.start()
    assert (data_dir / "chorus.sqlite").is_file()

    # recovery from an acknowledged offset (the middle one) in the old epoch
    since = ack_offsets[len(ack_offsets) // 2]
    async with await ws_connect(h.ws_url) as ws:
        sub = await subscribe_since(ws, topic, {"offset": since, "epoch": epoch})
        assert sub.get("recovered") is True, sub
        assert sub.get("epoch") == epoch and sub.get("offset", 0) >= max_acked, sub
        last = sub["offset"]
        replay = await messages(ws, last - since, timeout=30)
        assert_consecutive(offsets(replay), since + 1, "replayed offsets")
        by_offset = {m["offset"]: m for m in replay}
        for key, a in acks.items():
            if a["offset"] > since:
                m = by_offset[a["offset"]]
                assert m["message_id"] == a["message_id"] and m["data"] == sent[key], (key, a, m)

    # the history API: every acknowledged message, offsets 1..last, same epoch
    first_page, history = await whole_history(h, topic)
    assert first_page["epoch"] == epoch, (first_page["epoch"], epoch)
    assert first_page["last_offset"] == last >= max_acked, (first_page["last_offset"], last, max_acked)
    assert_consecutive(offsets(history), 1, "history offsets")
    assert len(history) == last
    by_offset = {m["offset"]: m for m in history}
    missing = [k for k, a in acks.items() if by_offset.get(a["offset"], {}).get("message_id") != a["message_id"]]
    assert not missing, f"{len(missing)} acknowledged messages lost or moved, e.g. {missing[:5]}"
    wrong = [k for k, a in acks.items() if by_offset[a["offset"]]["data"] != sent[k]]
    assert not wrong, f"acknowledged messages with other data: {wrong[:5]}"
    keys = [f'{m["data"]["c"]}-{m["data"]["i"]}' for m in history]
    assert len(set(keys)) == len(keys), "a message was stored twice"
    assert set(keys) <= set(sent), "the history holds messages nobody sent"

    # and the topic goes on where it stopped
    async with await ws_connect(h.ws_url) as ws:
        nxt = await publish(ws, topic, "after restart")
    assert nxt["offset"] == last + 1 and nxt["epoch"] == epoch, nxt


@pytest.mark.parametrize("sync", ["full", "normal"])
async def test_sqlite_history_survives_graceful_restart(restartable_hub, tmp_path, sync):
    r = restartable_hub([*ns_args({"chat": {"history_size": 100}}), "--store-sync", sync], cwd=tmp_path)
    h = r.start()
    topic = "chat:keep"
    async with await ws_connect(h.ws_url) as pub:
        acks = [await publish(pub, topic, i, id_=i) for i in range(3)]
    epoch = acks[0]["epoch"]
    assert r.stop() == 0
    assert (tmp_path / "chorus-data" / "chorus.sqlite").is_file(), "default data dir: ./chorus-data"
    h = r.start()
    async with await ws_connect(h.ws_url) as ws:
        sub = await subscribe_since(ws, topic, {"offset": 1, "epoch": epoch})
        assert sub.get("recovered") is True and sub.get("offset") == 3 and sub.get("epoch") == epoch, sub
        replay = await messages(ws, 2)
        assert [(m["offset"], m["message_id"], m["data"]) for m in replay] == [
            (2, acks[1]["message_id"], 1), (3, acks[2]["message_id"], 2)]
    async with await ws_connect(h.ws_url) as pub:
        nxt = await publish(pub, topic, 3)
    assert nxt["offset"] == 4 and nxt["epoch"] == epoch, nxt


async def test_memory_store_restart_starts_a_new_epoch(restartable_hub, tmp_path):
    r = restartable_hub([*ns_args({"chat": {"history_size": 100}}), "--store", "memory"], cwd=tmp_path)
    h = r.start()
    topic = "chat:volatile"
    async with await ws_connect(h.ws_url) as pub:
        acks = [await publish(pub, topic, i, id_=i) for i in range(3)]
    old = acks[0]["epoch"]
    r.kill9()
    h = r.start()
    async with await ws_connect(h.ws_url) as pub, await ws_connect(h.ws_url) as ws:
        sub = await subscribe_since(ws, topic, {"offset": 3, "epoch": old})
        assert sub.get("recovered") is False, sub
        assert sub.get("epoch") != old, sub
        first = await publish(pub, topic, "new life")
        assert first["offset"] == 1 and first["epoch"] and first["epoch"] != old, first
        nxt = await recv_frame(ws)
        assert nxt["type"] == "message" and nxt["message_id"] == first["message_id"], nxt
        async with await ws_connect(h.ws_url) as late:
            sub = await subscribe_since(late, topic, {"offset": 1, "epoch": old})
            assert sub.get("recovered") is False and sub.get("epoch") == first["epoch"], sub
            ack = await publish(pub, topic, "live")
            nxt = await recv_frame(late)
            assert nxt["type"] == "message" and nxt["message_id"] == ack["message_id"], \
                f"no replay across epochs: {nxt}"


# --------------------------------------------------------------------------------------------
# start-up faults
# --------------------------------------------------------------------------------------------

def _foreign_sqlite(path: Path) -> None:
    import sqlite3
    with contextlib.closing(sqlite3.connect(path)) as c:
        c.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT)")
        c.execute("INSERT INTO accounts (owner) VALUES ('someone else')")
        c.commit()


def _truncated_chorus_db(path: Path) -> None:
    """A real Chorus database (made by a hub, stopped gracefully) cut short."""
    h = Hub([*ns_args({"chat": {"history_size": 1000}}), "--data-dir", str(path.parent)]).start()
    try:
        with h.http_sync() as c:
            for i in range(200):
                assert c.post("/api/publish", json={"topic": "chat:t", "data": "x" * 200}).status_code == 200
    finally:
        assert h.stop() == 0
    size = path.stat().st_size
    assert size > 8192, size
    with open(path, "r+b") as f:
        f.truncate(size // 2)


@pytest.mark.parametrize("where,content", [
    ("default-data-dir", "garbage"),
    ("data-dir-flag", "garbage"),
    ("data-dir-flag", "foreign-sqlite"),
    ("data-dir-flag", "truncated-chorus-db"),
])
def test_unusable_database_stops_the_hub_and_is_left_alone(tmp_path, where, content):
    data_dir = tmp_path / ("chorus-data" if where == "default-data-dir" else "elsewhere")
    data_dir.mkdir()
    db = data_dir / "chorus.sqlite"
    if content == "garbage":
        db.write_bytes(random.Random(3).randbytes(64 * 1024))
    elif content == "foreign-sqlite":
        _foreign_sqlite(db)
    else:
        _truncated_chorus_db(db)
    before = db.read_bytes()
    args = ["serve", "--port", "0", *ns_args({"chat": {"history_size": 10}})]
    if where == "data-dir-flag":
        args += ["--data-dir", str(data_dir)]
    r = run_cli(*args, cwd=tmp_path, timeout=15)
    assert r.returncode == 2, (r.returncode, r.stderr[-800:])
    assert "cannot open the history database" in r.stderr, r.stderr[-800:]
    assert "listening" not in r.stderr
    assert db.read_bytes() == before, "a database the hub cannot use must be left exactly as it was"


@pytest.mark.parametrize("args,needle", [
    (ns_args({"chat": {"history_size": -1}}), "history_size"),
    (ns_args({"chat": {"history_size": "ten"}}), "history_size"),
    (ns_args({"chat": {"histroy_size": 10}}), "histroy_size"),
    (ns_args({"chat": {"history_size": 10, "history_ttl": "soon"}}), "history_ttl"),
    (ns_args({"chat": 5}), "chat"),
    (["--namespaces", "{not json"], "namespaces"),
    (["--store", "disk"], "store"),
    (["--store-sync", "sometimes"], "store-sync"),
    (["--max-store-size", "lots"], "max-store-size"),
], ids=["size-negative", "size-string", "unknown-option", "bad-ttl", "not-an-object", "not-json",
        "bad-store", "bad-store-sync", "bad-max-store-size"])
def test_bad_history_configuration_exits_2(tmp_path, args, needle):
    r = run_cli("serve", "--port", "0", *args, cwd=tmp_path, timeout=15)
    assert r.returncode == 2, (r.returncode, r.stderr[-500:])
    assert r.stderr.startswith("chorus: "), r.stderr[-500:]
    assert needle in r.stderr, (needle, r.stderr)
    if args[0] == "--namespaces":
        assert "namespaces" in r.stderr, r.stderr
    assert "listening" not in r.stderr


async def test_namespace_wildcard_recovers_and_follows_every_topic_of_the_namespace(hhub):
    """`chat:*` (every `chat:<name>` topic) replays their history since a time and then gets
    their live messages, each carrying `sub: "chat:*"`; `chat:<name>.x` and other namespaces
    are not matched."""
    room = uid()
    async with await ws_connect(hhub.ws_url) as pub, await ws_connect(hhub.ws_url) as sub:
        await publish(pub, f"chat:{room}-old", "before")
        await asyncio.sleep(0.01)
        cut = int(time.time() * 1000)
        await asyncio.sleep(0.01)
        a = await publish(pub, f"chat:{room}-a", "a1")
        await publish(pub, f"chat:{room}-a.thread", "not one segment")
        await publish(pub, f"small:{room}", "other namespace")
        b = await publish(pub, f"chat:{room}-b", "b1")
        reply = await subscribe_since(sub, "chat:*", {"ts": cut})
        assert reply.get("recovered") is True, reply
        replay = await messages(sub, 2)
        assert [(m["message_id"], m["sub"]) for m in replay] == [(a["message_id"], "chat:*"), (b["message_id"], "chat:*")], replay
        live = await publish(pub, f"chat:{room}-c", "c1")
        await publish(pub, f"chat:{room}-c.x", "deeper")
        frame = await recv_frame(sub)
        assert frame["message_id"] == live["message_id"] and frame["sub"] == "chat:*", frame
        # `chat:<name>.x` is not one segment after `chat:`: nothing more comes.
        with pytest.raises(pytest.fail.Exception):
            await recv_frame(sub, 0.3)

"""WebSocket /ws: subscribe, publish, patterns, unsubscribe, ping, direct."""

from __future__ import annotations

import asyncio
import json
import struct
import time
import uuid

import pytest

from conftest import (flood_and_check_fast_reader, OP_CLOSE, OP_TEXT, SECRET, RawWebSocket, bearer, hs256, http_publish,
                      parse_metrics, recv_frame, recv_type, roundtrip, send, settle, subscribe,
                      wait_for, ws_connect, ws_connect_as)


def unique(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


async def assert_next_message(ws, topic: str, data) -> dict:
    """The very next frame is a `message` on ``topic`` with ``data``."""
    frame = await recv_frame(ws)
    assert frame["type"] == "message", frame
    assert frame["topic"] == topic and frame["data"] == data, frame
    return frame


async def test_subscribe_publish_ack_and_message_shape(hub):
    topic = f"chat:{unique()}"
    async with await ws_connect(hub.ws()) as sub, await ws_connect(hub.ws()) as pub:
        reply = await roundtrip(sub, {"type": "subscribe", "topic": topic, "id": 1})
        assert reply["type"] == "subscribed" and reply["id"] == 1 and reply["topic"] == topic, reply

        before = int(time.time() * 1000)
        ack = await roundtrip(pub, {"type": "publish", "id": "p-1", "topic": topic,
                                    "event": "greet", "data": {"text": "hi", "n": [1, 2.5, None, True]}})
        after = int(time.time() * 1000)
        assert ack["type"] == "ack" and ack["id"] == "p-1", ack
        assert isinstance(ack["message_id"], str) and ack["message_id"], ack

        msg = await recv_frame(sub)
        assert msg["type"] == "message", msg
        assert msg["topic"] == topic
        assert msg["event"] == "greet"
        assert msg["data"] == {"text": "hi", "n": [1, 2.5, None, True]}
        assert msg["message_id"] == ack["message_id"]
        assert isinstance(msg["ts"], int) and before - 1000 <= msg["ts"] <= after + 1000, msg
        assert "sub" not in msg, "exact subscription must not carry `sub`"
        assert "id" not in msg, "a delivered message must not echo the publisher's frame id"


async def test_message_alias_and_default_event(hub):
    topic = unique("alias.")
    async with await ws_connect(hub.ws(topics=[topic])) as ws:
        assert await recv_frame(ws) == {"type": "subscribed", "topic": topic}
        ack = await roundtrip(ws, {"type": "message", "id": 7, "topic": topic, "data": "plain"})
        assert ack["type"] == "ack" and ack["id"] == 7 and ack["message_id"], ack
        msg = await assert_next_message(ws, topic, "plain")
        assert msg["event"] == "message", "event defaults to 'message'"
        assert msg["message_id"] == ack["message_id"]


async def test_message_ids_are_unique(hub):
    topic = unique("ids.")
    async with await ws_connect(hub.ws()) as ws:
        ids = set()
        for i in range(20):
            ack = await roundtrip(ws, {"type": "publish", "id": i, "topic": topic, "data": i})
            assert ack["type"] == "ack" and ack["id"] == i, ack
            ids.add(ack["message_id"])
        assert len(ids) == 20


async def test_many_subscribers_all_receive_in_order(hub):
    topic = unique("fan.")
    subs = [await ws_connect(hub.ws(topics=[topic])) for _ in range(5)]
    try:
        for s in subs:
            assert await recv_frame(s) == {"type": "subscribed", "topic": topic}
        async with await ws_connect(hub.ws()) as pub:
            for i in range(10):
                ack = await roundtrip(pub, {"type": "publish", "topic": topic, "data": i})
                assert ack["type"] == "ack"
        for s in subs:
            got = [(await recv_type(s, "message"))["data"] for _ in range(10)]
            assert got == list(range(10))
    finally:
        for s in subs:
            await s.close()


async def test_exact_single_star_and_double_star_matching(hub):
    base = unique("messages")
    exact, star, dstar = f"{base}.user.42", f"{base}.user.*", f"{base}.**"
    async with await ws_connect(hub.ws()) as e, await ws_connect(hub.ws()) as s, \
            await ws_connect(hub.ws()) as d, await ws_connect(hub.ws()) as pub:
        await subscribe(e, exact)
        await subscribe(s, star)
        await subscribe(d, dstar)

        async def publish(topic, data):
            ack = await roundtrip(pub, {"type": "publish", "topic": topic, "data": data})
            assert ack["type"] == "ack", ack

        await publish(exact, 1)
        m = await assert_next_message(e, exact, 1)
        assert "sub" not in m
        m = await assert_next_message(s, exact, 1)
        assert m["sub"] == star
        m = await assert_next_message(d, exact, 1)
        assert m["sub"] == dstar

        # one segment deeper: only `**`
        await publish(f"{base}.user.42.extra", 2)
        # another branch: only `**`
        await publish(f"{base}.channel.7", 3)
        # the bare prefix: `**` needs one or more segments, so nobody
        await publish(base, 4)
        # `*` matches any one segment
        await publish(f"{base}.user.43", 5)
        # sentinel on every connection's topic, published last
        await publish(exact, "end")

        m = await assert_next_message(d, f"{base}.user.42.extra", 2)
        assert m["sub"] == dstar
        m = await assert_next_message(d, f"{base}.channel.7", 3)
        assert m["sub"] == dstar
        m = await assert_next_message(d, f"{base}.user.43", 5)
        assert m["sub"] == dstar
        await assert_next_message(d, exact, "end")

        m = await assert_next_message(s, f"{base}.user.43", 5)
        assert m["sub"] == star
        await assert_next_message(s, exact, "end")

        await assert_next_message(e, exact, "end")


async def test_star_in_middle_segment(hub):
    base = unique("doc")
    async with await ws_connect(hub.ws(topics=[f"{base}.*.edits"])) as ws, await ws_connect(hub.ws()) as pub:
        assert await recv_frame(ws) == {"type": "subscribed", "topic": f"{base}.*.edits"}
        for topic in (f"{base}.7.views", f"{base}.7.edits.x", f"{base}.7.edits"):
            assert (await roundtrip(pub, {"type": "publish", "topic": topic, "data": topic}))["type"] == "ack"
        m = await assert_next_message(ws, f"{base}.7.edits", f"{base}.7.edits")
        assert m["sub"] == f"{base}.*.edits"


async def test_exact_and_pattern_overlap_delivers_once(hub):
    base = unique("ov")
    topic = f"{base}.b"
    async with await ws_connect(hub.ws()) as ws, await ws_connect(hub.ws()) as pub:
        await subscribe(ws, topic)
        await subscribe(ws, f"{base}.*")
        await subscribe(ws, f"{base}.**")
        await subscribe(ws, topic)  # subscribing twice is idempotent
        assert (await roundtrip(pub, {"type": "publish", "topic": topic, "data": "once"}))["type"] == "ack"
        assert (await roundtrip(pub, {"type": "publish", "topic": topic, "data": "sentinel"}))["type"] == "ack"
        await assert_next_message(ws, topic, "once")
        await assert_next_message(ws, topic, "sentinel")


async def test_two_overlapping_patterns_deliver_once_with_sub(hub):
    base = unique("pp")
    topic = f"{base}.x"
    async with await ws_connect(hub.ws()) as ws, await ws_connect(hub.ws()) as pub:
        await subscribe(ws, f"{base}.*")
        await subscribe(ws, f"{base}.**")
        for data in ("once", "sentinel"):
            assert (await roundtrip(pub, {"type": "publish", "topic": topic, "data": data}))["type"] == "ack"
        m = await assert_next_message(ws, topic, "once")
        assert m.get("sub") in (f"{base}.*", f"{base}.**"), m
        await assert_next_message(ws, topic, "sentinel")


async def test_topics_at_connect(hub):
    base = unique("qc")
    topics = [f"{base}.a", f"{base}.b.*", f"{base}:c"]
    async with await ws_connect(hub.ws(topics=topics)) as ws:
        for t in topics:
            frame = await recv_frame(ws)
            assert frame == {"type": "subscribed", "topic": t}, frame
        await http_publish(hub, f"{base}.b.9", "via-pattern")
        m = await assert_next_message(ws, f"{base}.b.9", "via-pattern")
        assert m["sub"] == f"{base}.b.*"
        await http_publish(hub, f"{base}:c", "colon")
        await assert_next_message(ws, f"{base}:c", "colon")
        await http_publish(hub, f"{base}.a", "exact")
        await assert_next_message(ws, f"{base}.a", "exact")


async def test_unsubscribe_stops_delivery(hub):
    base = unique("un")
    keep, drop, pattern = f"{base}.keep", f"{base}.drop", f"{base}.p.*"
    async with await ws_connect(hub.ws(topics=[keep, drop, pattern])) as ws:
        for _ in range(3):
            assert (await recv_frame(ws))["type"] == "subscribed"
        await http_publish(hub, drop, "before")
        await assert_next_message(ws, drop, "before")

        reply = await roundtrip(ws, {"type": "unsubscribe", "id": "u1", "topic": drop})
        assert reply == {"type": "unsubscribed", "id": "u1", "topic": drop}
        reply = await roundtrip(ws, {"type": "unsubscribe", "id": "u2", "topic": pattern})
        assert reply == {"type": "unsubscribed", "id": "u2", "topic": pattern}

        await http_publish(hub, drop, "after")
        await http_publish(hub, f"{base}.p.1", "after-pattern")
        await http_publish(hub, keep, "sentinel")
        await assert_next_message(ws, keep, "sentinel")


async def test_unsubscribe_removes_subscription_from_topics(hub):
    topic = unique("gone.")
    async with await ws_connect(hub.ws(topics=[topic])) as ws, hub.http() as http:
        assert (await recv_frame(ws))["type"] == "subscribed"
        topics = {t["topic"]: t["subscribers"] for t in (await http.get("/api/topics")).json()["topics"]}
        assert topics.get(topic) == 1
        assert (await roundtrip(ws, {"type": "unsubscribe", "topic": topic}))["type"] == "unsubscribed"
        topics = {t["topic"]: t["subscribers"] for t in (await http.get("/api/topics")).json()["topics"]}
        assert topic not in topics, topics


async def test_ping_pong_echoes_timestamp_and_id(hub):
    async with await ws_connect(hub.ws()) as ws:
        assert await roundtrip(ws, {"type": "ping", "id": 1, "timestamp": 1712345678901}) == \
            {"type": "pong", "id": 1, "timestamp": 1712345678901}
        assert await roundtrip(ws, {"type": "ping", "id": "x", "timestamp": "opaque-1"}) == \
            {"type": "pong", "id": "x", "timestamp": "opaque-1"}
        pong = await roundtrip(ws, {"type": "ping"})
        assert pong["type"] == "pong" and "id" not in pong, pong


async def test_direct_reaches_every_connection_of_the_user(hub_factory):
    secret = SECRET
    h = hub_factory(["--jwt-secret", secret, "--api-key", "direct-api-key"])
    alice, bob = hs256(secret, "alice"), hs256(secret, "bob")
    async with await ws_connect_as(h.ws(), bob, "bob") as bob1, \
            await ws_connect_as(h.ws(), bob, "bob", via="query") as bob2, \
            await ws_connect_as(h.ws(), alice, "alice") as alice1, \
            await ws_connect_as(h.ws(), alice, "alice") as alice2, \
            await ws_connect_as(h.ws(), hs256(secret, "carol"), "carol") as carol:
        ack = await roundtrip(alice1, {"type": "direct", "id": 5, "to": "bob", "event": "offer",
                                       "data": {"sdp": "v=0"}})
        assert ack["type"] == "ack" and ack["id"] == 5 and ack["message_id"], ack

        async with h.http(headers=bearer("direct-api-key")) as http:
            conns = (await http.get("/api/connections")).json()["connections"]
        alice_clients = {c["client"] for c in conns if c["user"] == "alice"}
        assert len(alice_clients) == 2

        for b in (bob1, bob2):
            m = await recv_frame(b)
            assert m["type"] == "message" and m["topic"] == "direct", m
            assert m["event"] == "offer" and m["data"] == {"sdp": "v=0"}
            assert m["message_id"] == ack["message_id"]
            assert m["from"]["user"] == "alice" and m["from"]["client"] in alice_clients, m

        # nobody else got it: each of them next sees its own pong
        for other in (alice1, alice2, carol):
            assert await roundtrip(other, {"type": "ping", "id": "p"}) == {"type": "pong", "id": "p"}


async def test_deliver_to_publisher_default_true(hub):
    topic = unique("self.")
    async with await ws_connect(hub.ws(topics=[topic])) as ws:
        assert (await recv_frame(ws))["type"] == "subscribed"
        ack = await roundtrip(ws, {"type": "publish", "id": 1, "topic": topic, "data": "mine"})
        assert ack["type"] == "ack"
        m = await assert_next_message(ws, topic, "mine")
        assert m["message_id"] == ack["message_id"]


async def test_deliver_to_publisher_false(hub_factory):
    h = hub_factory(["--deliver-to-publisher", "false"])
    topic = unique("noself.")
    async with await ws_connect(h.ws(topics=[topic])) as me, await ws_connect(h.ws(topics=[topic])) as other:
        assert (await recv_frame(me))["type"] == "subscribed"
        assert (await recv_frame(other))["type"] == "subscribed"
        ack = await roundtrip(me, {"type": "publish", "id": 1, "topic": topic, "data": "mine"})
        assert ack["type"] == "ack"
        await assert_next_message(other, topic, "mine")
        # the publisher's next frame is the reply to its next request, not its own message
        assert await roundtrip(me, {"type": "ping", "id": 2}) == {"type": "pong", "id": 2}
        # a message from someone else still reaches it
        await http_publish(h, topic, "theirs")
        await assert_next_message(me, topic, "theirs")


async def test_slow_consumer_is_cut_off_with_4008_and_others_unaffected(hub_factory):
    """A subscriber that stops reading falls behind by more than --max-backlog: the hub closes it
    with 4008 (slow consumer) and keeps serving everybody else at full speed."""
    h = hub_factory(["--max-backlog", "256KiB"])
    topic = "flood.room"
    total, pad = 3000, "x" * 4000          # ~12 MB: far beyond kernel socket buffers + backlog
    slow = await RawWebSocket.connect(h, path=f"/ws?topic={topic}", rcvbuf=4096)
    try:
        assert await slow.recv_json() == {"type": "subscribed", "topic": topic}
        async with await ws_connect(h.ws(topics=[topic])) as fast, await ws_connect(h.ws()) as pub:
            assert await recv_frame(fast) == {"type": "subscribed", "topic": topic}

            await flood_and_check_fast_reader(pub, fast, topic, total, pad)

            async def slow_counted():
                async with h.http() as c:
                    m = parse_metrics((await c.get("/metrics")).text)
                    s = (await c.get("/api/stats")).json()
                return m.get("chorus_slow_consumer_disconnects_total") == 1 and s["connections"]["total"] == 2
            await wait_for(slow_counted, timeout=10, what="the slow consumer to be cut off")

        # what the slow client did get is a gapless prefix, then (at most) a disconnect 4008
        seqs, tail, close_code = [], [], None
        while True:
            try:
                opcode, payload = await slow.recv_raw_frame(timeout=10)
            except (ConnectionError, asyncio.IncompleteReadError):
                break
            if opcode == OP_CLOSE:
                close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                break
            if opcode != OP_TEXT:
                continue
            frame = json.loads(payload)
            if frame["type"] == "message" and not tail:
                seqs.append(frame["data"]["seq"])
            else:
                tail.append(frame)
        assert seqs == list(range(len(seqs))), "the slow consumer's messages have gaps"
        assert len(seqs) < total
        assert all(f["type"] == "disconnect" and f["code"] == 4008 for f in tail), tail
        assert close_code in (4008, None), close_code
    finally:
        await slow.aclose()


async def test_invalid_topic_at_connect_is_an_error_frame_and_the_rest_subscribe(hub):
    base = unique("mix")
    async with await ws_connect(hub.ws(topics=[f"{base}.ok", "bad..topic", f"{base}.p.*"])) as ws:
        assert await recv_frame(ws) == {"type": "subscribed", "topic": f"{base}.ok"}
        err = await recv_frame(ws)
        assert err["type"] == "error" and err["code"] == "bad_request" and "id" not in err, err
        assert await recv_frame(ws) == {"type": "subscribed", "topic": f"{base}.p.*"}
        await http_publish(hub, f"{base}.p.1", "works")
        await assert_next_message(ws, f"{base}.p.1", "works")


async def test_allowed_origins(hub_factory):
    h = hub_factory(["--allowed-origins", "https://app.example,https://admin.example"])
    for origin, status in (("https://app.example", 101), ("https://admin.example", 101),
                           ("https://evil.example", 403)):
        raw = await RawWebSocket.connect(h, headers={"Origin": origin})
        try:
            assert raw.status == status, (origin, raw.status)
        finally:
            await raw.aclose()
    # no Origin header (a non-browser client) is not subject to the browser policy
    raw = await RawWebSocket.connect(h)
    try:
        assert raw.status == 101
    finally:
        await raw.aclose()
    async with h.http() as c:
        r = await c.get("/sse?topic=a", headers={"Origin": "https://evil.example"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", r.text
        r = await c.post("/api/publish", json={"topic": "a", "data": 1}, headers={"Origin": "https://app.example"})
        assert r.status_code == 200
        assert r.headers.get("access-control-allow-origin") == "https://app.example", r.headers
        r = await c.options("/api/publish", headers={"Origin": "https://app.example",
                                                      "Access-Control-Request-Method": "POST"})
        assert r.status_code in (200, 204), r.status_code
        assert r.headers.get("access-control-allow-origin") == "https://app.example", r.headers
        r = await c.options("/api/publish", headers={"Origin": "https://evil.example",
                                                      "Access-Control-Request-Method": "POST"})
        assert r.headers.get("access-control-allow-origin") in (None, ""), r.headers


@pytest.mark.parametrize("subscribers,publishers,per_publisher", [(1, 2, 300), (4, 3, 300), (1, 1, 5000)],
                         ids=["1sub-2pub-300", "4sub-3pub-300", "1sub-1pub-5000"])
async def test_pipelined_bursts_reach_every_subscriber_in_publisher_order(hub_factory, subscribers,
                                                                           publishers, per_publisher):
    """Publishers that do not wait for acks, subscribers that read as fast as they can: every
    subscriber gets every message, and each publisher's messages in the order it sent them."""
    h = hub_factory()
    topic = "burst.room"
    subs = [await ws_connect(h.ws(topics=[topic])) for _ in range(subscribers)]
    pubs = [await ws_connect(h.ws()) for _ in range(publishers)]
    tasks: list[asyncio.Task] = []
    try:
        for s in subs:
            assert await recv_frame(s) == {"type": "subscribed", "topic": topic}

        async def read(ws, n):
            return [await recv_frame(ws, timeout=20) for _ in range(n)]

        tasks = [asyncio.create_task(read(s, publishers * per_publisher)) for s in subs] + \
                [asyncio.create_task(read(p, per_publisher)) for p in pubs]

        async def publish(p_index, ws):
            for i in range(per_publisher):
                await send(ws, {"type": "publish", "topic": topic, "data": [p_index, i]})
        await asyncio.wait_for(asyncio.gather(*(publish(i, p) for i, p in enumerate(pubs))), 30)
        results = await asyncio.wait_for(asyncio.gather(*tasks), 60)

        for acks in results[subscribers:]:
            assert [f["type"] for f in acks] == ["ack"] * per_publisher
        for got in results[:subscribers]:
            assert all(f["type"] == "message" for f in got)
            for p_index in range(publishers):
                assert [f["data"][1] for f in got if f["data"][0] == p_index] == list(range(per_publisher))
    finally:
        await settle(*tasks)
        for ws in subs + pubs:
            await ws.close()

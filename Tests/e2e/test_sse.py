"""Server-Sent Events: GET /sse?topic=..."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid

import httpx

from conftest import (flood_and_check_fast_reader, SECRET, bearer, hs256, http_publish, parse_metrics, recv_frame, roundtrip,
                      settle, sse_connect,
                      stats, wait_for, ws_connect)


def unique(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


async def test_sse_headers(hub):
    async with sse_connect(hub, topics=[unique("h.")]) as stream:
        headers = stream.response.headers
        assert headers["content-type"].split(";")[0].strip() == "text/event-stream", headers
        assert "no-cache" in headers["cache-control"], headers


async def test_sse_event_has_id_event_and_data(hub):
    topic = unique("sse.")
    async with sse_connect(hub, topics=[topic]) as stream:
        # the stream is live as soon as the subscription is counted
        await wait_for(lambda: _subscribers(hub, topic), what=f"SSE subscriber on {topic}")
        mid = await http_publish(hub, topic, {"k": "v", "n": 1}, event="update")
        ev = await stream.next_event()
        assert ev.event == "update"
        assert ev.id, "each SSE event carries an id: resume token"
        frame = ev.json()
        assert frame["type"] == "message" and frame["topic"] == topic
        assert frame["event"] == "update" and frame["data"] == {"k": "v", "n": 1}
        assert frame["message_id"] == mid
        assert isinstance(frame["ts"], int)
        assert "sub" not in frame

        # default event name, and a payload with a newline stays one data line of valid JSON
        mid2 = await http_publish(hub, topic, "two\nlines")
        ev = await stream.next_event()
        assert ev.event == "message"
        assert ev.json()["data"] == "two\nlines" and ev.json()["message_id"] == mid2
        assert ev.id, ev


async def _subscribers(hub, topic: str) -> int:
    async with hub.http() as c:
        topics = (await c.get("/api/topics")).json()["topics"]
    return next((t["subscribers"] for t in topics if t["topic"] == topic), 0)


async def test_sse_ids_are_distinct_per_event(hub):
    topic = unique("ids.")
    async with sse_connect(hub, topics=[topic]) as stream:
        await wait_for(lambda: _subscribers(hub, topic), what="SSE subscriber")
        mids = [await http_publish(hub, topic, i) for i in range(5)]
        events = [await stream.next_event() for _ in range(5)]
        assert [e.json()["data"] for e in events] == list(range(5))
        assert [e.json()["message_id"] for e in events] == mids
        assert len({e.id for e in events}) == 5


async def test_sse_pattern_subscription_carries_sub(hub):
    base = unique("p")
    async with sse_connect(hub, topics=[f"{base}.*", f"{base}.deep.**"]) as stream:
        await wait_for(lambda: _subscribers(hub, f"{base}.*"), what="pattern subscriber")
        await http_publish(hub, f"{base}.one", 1)
        await http_publish(hub, f"{base}.deep.a.b", 2)
        await http_publish(hub, f"{base}", 3)           # matches neither
        await http_publish(hub, f"{base}.x.y", 4)       # `*` is one segment only
        await http_publish(hub, f"{base}.last", "end")
        frames = [(await stream.next_event()).json() for _ in range(3)]
        assert [(f["topic"], f["data"], f.get("sub")) for f in frames] == [
            (f"{base}.one", 1, f"{base}.*"),
            (f"{base}.deep.a.b", 2, f"{base}.deep.**"),
            (f"{base}.last", "end", f"{base}.*"),
        ]


async def test_sse_keepalive_comment(hub_factory):
    h = hub_factory(["--sse-keepalive-interval", "200ms"])
    async with sse_connect(h, topics=["quiet.topic"]) as stream:
        pings = []
        while len(pings) < 2:
            comment = await stream.next_comment(timeout=2.0)
            if comment == "ping":
                pings.append(comment)
        assert pings == ["ping", "ping"]


async def test_http_publish_reaches_sse_and_websocket(hub):
    topic = unique("both.")
    async with sse_connect(hub, topics=[topic]) as stream, await ws_connect(hub.ws(topics=[topic])) as ws:
        assert await recv_frame(ws) == {"type": "subscribed", "topic": topic}
        await wait_for(lambda: _subscribers(hub, topic), what="SSE subscriber")
        await wait_for(lambda: _at_least(hub, topic, 2), what="both subscribers")
        mid = await http_publish(hub, topic, {"hello": "both"}, event="greet")
        ws_msg = await recv_frame(ws)
        sse_msg = (await stream.next_event()).json()
        assert ws_msg == sse_msg, (ws_msg, sse_msg)
        assert ws_msg["message_id"] == mid and ws_msg["data"] == {"hello": "both"}


async def _at_least(hub, topic, n):
    return (await _subscribers(hub, topic)) >= n


async def test_websocket_publish_reaches_sse(hub):
    topic = unique("ws2sse.")
    async with sse_connect(hub, topics=[topic]) as stream, await ws_connect(hub.ws()) as ws:
        await wait_for(lambda: _subscribers(hub, topic), what="SSE subscriber")
        ack = await roundtrip(ws, {"type": "publish", "id": 1, "topic": topic, "event": "e", "data": [1, 2]})
        assert ack["type"] == "ack"
        ev = await stream.next_event()
        assert ev.event == "e"
        frame = ev.json()
        assert frame["message_id"] == ack["message_id"] and frame["data"] == [1, 2]
        assert "from" in frame and isinstance(frame["from"]["client"], str)


async def test_sse_connection_is_counted_and_released(hub):
    topic = unique("cnt.")
    base = (await stats(hub))["connections"]["by_transport"]["sse"]
    async with sse_connect(hub, topics=[topic]) as stream:
        await wait_for(lambda: _subscribers(hub, topic), what="SSE subscriber")
        s = await stats(hub)
        assert s["connections"]["by_transport"]["sse"] == base + 1
        async with hub.http() as c:
            conns = (await c.get("/api/connections")).json()["connections"]
        assert any(c["transport"] == "sse" for c in conns), conns
        assert stream.response.status_code == 200

    async def released():
        s = await stats(hub)
        return s["connections"]["by_transport"]["sse"] == base and await _subscribers(hub, topic) == 0
    await wait_for(released, what="SSE connection released after the client went away")


async def test_sse_bad_requests_answer_json_before_stream(hub):
    async with httpx.AsyncClient(base_url=hub.url, timeout=5) as c:
        for query in ("topic=a..b", "topic=a.**.b", ""):
            r = await c.get(f"/sse?{query}")
            assert r.status_code == 400, (query, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/json")
            assert r.json()["error"]["code"] == "bad_request", r.text
            assert isinstance(r.json()["error"]["message"], str) and r.json()["error"]["message"]


async def test_slow_sse_consumer_is_cut_off_and_hub_keeps_serving(hub_factory):
    """An SSE client that stops reading falls more than --max-backlog behind: the hub ends that
    stream and keeps serving everyone else."""
    h = hub_factory(["--max-backlog", "256KiB"])
    topic = "sse.flood"
    total, pad = 3000, "x" * 4000          # ~12 MB: far beyond kernel socket buffers + backlog
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", h.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
        writer.write(f"GET /sse?topic={topic} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200"), head
        await wait_for(lambda: _subscribers(h, topic), what="SSE subscriber")

        async with await ws_connect(h.ws(topics=[topic])) as fast, await ws_connect(h.ws()) as pub:
            assert await recv_frame(fast) == {"type": "subscribed", "topic": topic}

            await flood_and_check_fast_reader(pub, fast, topic, total, pad)

        async def cut_off():
            async with h.http() as c:
                m = parse_metrics((await c.get("/metrics")).text)
                s = (await c.get("/api/stats")).json()
            return m.get("chorus_slow_consumer_disconnects_total") == 1 and s["connections"]["by_transport"]["sse"] == 0
        await wait_for(cut_off, timeout=10, what="the slow SSE consumer to be cut off")
    finally:
        writer.close()


async def test_sse_user_disconnect_and_token_expiry(hub_factory):
    h = hub_factory(["--jwt-secret", SECRET, "--api-key", "sse-key"])
    async with sse_connect(h, topics=["a"], token=hs256(SECRET, "sam")) as stream:
        async with h.http(headers=bearer("sse-key")) as c:
            async def listed():
                conns = (await c.get("/api/connections")).json()["connections"]
                return any(x["user"] == "sam" for x in conns)
            await wait_for(listed, what="sam's SSE connection")
            r = await c.post("/api/users/sam/disconnect", json={"reason": "bye", "reconnect": False})
            assert r.status_code == 202
        events = await stream.wait_end()
        assert [e.event for e in events] == ["disconnect"], events
        d = events[0].json()
        assert d["type"] == "disconnect" and d["reason"] == "bye" and d["reconnect"] is False, d

    exp = int(time.time()) + 2
    async with sse_connect(h, topics=["a"], token=hs256(SECRET, "sam", ttl=None, exp=exp)) as stream:
        events = await stream.wait_end(timeout=6)
        arrived = time.time()
        assert [e.event for e in events] == ["disconnect"], events
        assert events[0].json()["code"] == 4001, events[0].data
        assert exp - 0.5 <= arrived <= exp + 2.0, arrived - exp

"""Limits (docs/security.md): connections per address and per user, connection attempts per
address per second, subscriptions per connection, publish rate per connection (rate_limited,
then 4029), HTTP API requests per key, the request timeout (slowloris), X-Forwarded-For from
trusted proxies, and their metrics. Each refusal is a clear error and the hub keeps serving."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

from conftest import (SECRET, RawWebSocket, bearer, hs256, parse_metrics, recv_frame,
                      recv_until_closed, roundtrip, send, ws_connect, ws_connect_as)

API_KEY = "limits-test-api-key"


async def body_of(raw: RawWebSocket) -> dict:
    """The JSON body of an HTTP error answer to an upgrade request."""
    length = int(raw.headers["content-length"])
    return json.loads(await asyncio.wait_for(raw.reader.readexactly(length), 3))


async def limit_rejections(hub) -> dict[str, float]:
    async with hub.http() as client:
        text = (await client.get("/metrics")).text
    samples = parse_metrics(text)
    return {key.split('limit="')[1].rstrip('"}'): value for key, value in samples.items()
            if key.startswith("chorus_limit_rejections_total{")}


async def eventually_admitted(attempt, failure: str, seconds: float = 3) -> None:
    """Retries ``attempt`` (a new connection, True once admitted) until the hub has counted a
    closed connection out, which happens when its close is processed."""
    deadline = time.monotonic() + seconds
    while not await attempt():
        assert time.monotonic() < deadline, failure
        await asyncio.sleep(0.05)


async def expect_refused_upgrade(hub, limit_option: str, **kw) -> RawWebSocket:
    raw = await RawWebSocket.connect(hub, **kw)
    assert raw.status == 429, raw.status
    body = await body_of(raw)
    assert body["error"]["code"] == "rate_limited" and limit_option in body["error"]["message"], body
    assert int(raw.headers["retry-after"]) >= 1
    return raw


# -- connections per address ----------------------------------------------------------------------

async def test_connections_per_ip_default_is_100_and_others_are_served(hub_factory):
    h = hub_factory(default_limits=True, env={"CHORUS_MAX_CONNECT_RATE_PER_IP": "0"})
    held = [await RawWebSocket.connect(h) for _ in range(100)]
    assert all(raw.status == 101 for raw in held)
    refused = await expect_refused_upgrade(h, "max_connections_per_ip")
    await refused.aclose()
    # Another address is not affected, and SSE counts too.
    other = await RawWebSocket.connect(h, source="127.0.0.2")
    assert other.status == 101
    async with h.http() as client:
        r = await client.get("/sse?topic=x")
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited", r.text
    # Closing one frees a place.
    await held.pop().aclose()
    async def admitted() -> bool:
        raw = await RawWebSocket.connect(h)
        held.append(raw)
        return raw.status == 101
    await eventually_admitted(admitted, "a closed connection never freed its place")
    assert (await limit_rejections(h))["connections_per_ip"] >= 2
    for raw in held + [other]:
        await raw.aclose()


async def test_connect_rate_per_ip(hub_factory):
    h = hub_factory(env={"CHORUS_MAX_CONNECT_RATE_PER_IP": "5"})
    statuses = []
    for _ in range(12):
        raw = await RawWebSocket.connect(h)
        statuses.append(raw.status)
        await raw.aclose()
    # A bucket of 5 a second: the first 5 pass at once; of the rest, at most a few refill in time.
    assert statuses[:5] == [101] * 5, statuses
    assert statuses.count(429) >= 4, statuses
    assert (await limit_rejections(h))["connect_rate_per_ip"] == statuses.count(429)
    await asyncio.sleep(1.1)
    raw = await RawWebSocket.connect(h)
    assert raw.status == 101, "the bucket did not refill"
    await raw.aclose()


async def test_forwarded_for_counts_the_client_behind_a_trusted_proxy(hub_factory):
    h = hub_factory(["--trusted-proxies", "127.0.0.1"], env={"CHORUS_MAX_CONNECTIONS_PER_IP": "2"})
    behind = {"X-Forwarded-For": "203.0.113.9"}
    first = await RawWebSocket.connect(h, headers=behind)
    second = await RawWebSocket.connect(h, headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9"})
    assert (first.status, second.status) == (101, 101)
    third = await expect_refused_upgrade(h, "203.0.113.9", headers=behind)
    other = await RawWebSocket.connect(h, headers={"X-Forwarded-For": "203.0.113.10"})
    assert other.status == 101
    async with h.http() as client:
        listed = {c["remote_address"] for c in (await client.get("/api/connections")).json()["connections"]}
    assert listed == {"203.0.113.9", "203.0.113.10"}, listed
    for raw in (first, second, third, other):
        await raw.aclose()


async def test_forwarded_for_is_ignored_from_untrusted_peers(hub_factory):
    h = hub_factory(env={"CHORUS_MAX_CONNECTIONS_PER_IP": "1"})
    first = await RawWebSocket.connect(h, headers={"X-Forwarded-For": "203.0.113.1"})
    assert first.status == 101
    second = await expect_refused_upgrade(h, "127.0.0.1", headers={"X-Forwarded-For": "203.0.113.2"})
    await first.aclose()
    await second.aclose()


# -- connections per user ---------------------------------------------------------------------------

async def test_connections_per_user_default_is_10(hub_factory):
    h = hub_factory(["--jwt-secret", SECRET], default_limits=True,
                    env={"CHORUS_MAX_CONNECT_RATE_PER_IP": "0"})
    token = hs256(SECRET, "carol")
    held = [await ws_connect_as(h.ws(), token, "carol") for _ in range(10)]
    extra = await ws_connect(h.ws(), headers=bearer(token))
    frames, code, _ = await recv_until_closed(extra)
    assert code == 4029, (code, frames)
    assert frames[0]["type"] == "error" and frames[0]["code"] == "rate_limited", frames
    assert "max_connections_per_user" in frames[0]["message"]
    # SSE counts against the same budget; another user is not affected.
    async with h.http() as client:
        r = await client.get(h.sse(topics=["x"], token=token))
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited", r.text
    dave = await ws_connect_as(h.ws(), hs256(SECRET, "dave"), "dave")
    await held.pop().close()
    async def admitted() -> bool:
        ws = await ws_connect(h.ws(), headers=bearer(token))
        frame = await recv_frame(ws)
        held.append(ws)
        return frame["type"] == "auth_success"
    await eventually_admitted(admitted, "a closed connection never freed the user's place")
    assert (await limit_rejections(h))["connections_per_user"] >= 2
    for ws in held + [dave]:
        await ws.close()


# -- subscriptions and publishes per connection -----------------------------------------------------

async def test_subscriptions_per_connection(hub_factory):
    h = hub_factory(env={"CHORUS_MAX_SUBSCRIPTIONS_PER_CONNECTION": "3"})
    ws = await ws_connect(h.ws())
    for topic in ("a", "b", "c.*"):
        assert (await roundtrip(ws, {"type": "subscribe", "topic": topic}))["type"] == "subscribed"
    refused = await roundtrip(ws, {"type": "subscribe", "topic": "d", "id": 4})
    assert refused["type"] == "error" and refused["code"] == "rate_limited" and refused["id"] == 4, refused
    assert "max_subscriptions_per_connection" in refused["message"]
    # Subscribing again to a held topic is not a new subscription; unsubscribing frees a place.
    assert (await roundtrip(ws, {"type": "subscribe", "topic": "a"}))["type"] == "subscribed"
    assert (await roundtrip(ws, {"type": "unsubscribe", "topic": "b"}))["type"] == "unsubscribed"
    assert (await roundtrip(ws, {"type": "subscribe", "topic": "d"}))["type"] == "subscribed"
    await ws.close()
    async with h.http() as client:
        # A stream naming more topics than allowed can never be opened: 400, not a 429 to retry.
        r = await client.get(h.sse(topics=["a", "b", "c", "d"]))
        assert r.status_code == 400 and "retry-after" not in r.headers, (r.status_code, r.headers)
        assert r.json()["error"]["code"] == "bad_request", r.text
        assert "max_subscriptions_per_connection" in r.json()["error"]["message"] and "names 4 topics" in r.text, r.text
    assert (await limit_rejections(h))["subscriptions_per_connection"] == 2


async def test_publish_rate_refuses_then_closes_4029_on_sustained_abuse(hub_factory):
    h = hub_factory(env={"CHORUS_MAX_PUBLISH_RATE_PER_CONNECTION": "10"})
    bystander = await ws_connect(h.ws(topics=["flood"]))
    await recv_frame(bystander)  # subscribed
    ws = await ws_connect(h.ws())
    for i in range(10):
        await send(ws, {"type": "publish", "topic": "flood", "data": i, "id": i})
    await send(ws, {"type": "publish", "topic": "flood", "data": 10, "id": 10})
    replies = [await recv_frame(ws) for _ in range(11)]
    assert [r["type"] for r in replies[:10]] == ["ack"] * 10, replies
    assert replies[10]["type"] == "error" and replies[10]["code"] == "rate_limited" and replies[10]["id"] == 10
    # Far past twice the rate within the second: closed with 4029.
    for i in range(11, 40):
        await send(ws, {"type": "publish", "topic": "flood", "data": i})
    frames, code, _ = await recv_until_closed(ws)
    assert code == 4029, (code, frames[-3:])
    assert any(f["type"] == "disconnect" and f["reconnect"] is False for f in frames), frames[-3:]
    # The subscriber got exactly the ten accepted messages, and is still served.
    received = [(await recv_frame(bystander))["data"] for _ in range(10)]
    assert received == list(range(10))
    assert (await roundtrip(bystander, {"type": "ping"}))["type"] == "pong"
    await bystander.close()


# -- HTTP API ---------------------------------------------------------------------------------------

async def test_api_rate_per_key(hub_factory):
    h = hub_factory(["--api-key", API_KEY], env={"CHORUS_MAX_API_RATE_PER_KEY": "5"})
    async with h.http() as client:
        statuses = [(await client.get("/api/stats", headers=bearer(API_KEY))).status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429], statuses
        r = await client.get("/api/stats", headers=bearer(API_KEY))
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited", r.text
        assert int(r.headers["retry-after"]) >= 1 and "max_api_rate_per_key" in r.json()["error"]["message"]
        # Other callers have their own budget (by address); health and metrics are not limited.
        assert (await client.get("/api/stats", headers=bearer("wrong"))).status_code == 401
        assert (await client.get("/health")).status_code == 200
        await asyncio.sleep(1.1)
        assert (await client.get("/api/stats", headers=bearer(API_KEY))).status_code == 200
    assert (await limit_rejections(h))["api_rate_per_key"] == 2


# -- request timeout (slowloris) --------------------------------------------------------------------

def open_socket(hub) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", hub.port), timeout=5)
    return sock


def closed_within(sock: socket.socket, seconds: float, trickle: bytes = b"") -> float | None:
    """Sends ``trickle`` a byte every 200 ms; returns when the hub closed the socket (seconds)."""
    start = time.monotonic()
    sock.settimeout(0.2)
    position = 0
    while time.monotonic() - start < seconds:
        if position < len(trickle):
            try:
                sock.send(trickle[position:position + 1])
            except OSError:
                return time.monotonic() - start
            position += 1
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - start
        except socket.timeout:
            continue
        except OSError:
            return time.monotonic() - start
    return None


async def test_slowloris_headers_are_cut_off(hub_factory):
    h = hub_factory(["--request-timeout", "1s"])
    # Headers trickled a byte every 200 ms never complete within the timeout.
    slow = open_socket(h)
    trickle = b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nX-Pad: " + b"a" * 200
    after = await asyncio.to_thread(closed_within, slow, 5, trickle)
    assert after is not None and 0.8 <= after <= 3, after
    slow.close()
    # A connection that sends nothing is cut off too.
    silent = open_socket(h)
    after = await asyncio.to_thread(closed_within, silent, 5)
    assert after is not None and after <= 3, after
    silent.close()
    # Meanwhile a normal client connects and stays as long as it likes.
    ws = await ws_connect(h.ws())
    await asyncio.sleep(1.5)
    assert (await roundtrip(ws, {"type": "ping"}))["type"] == "pong"
    await ws.close()
    assert (await limit_rejections(h))["request_timeout"] >= 2


async def test_idle_keep_alive_connection_is_closed_after_the_request_timeout(hub_factory):
    h = hub_factory(["--request-timeout", "1s"])
    sock = open_socket(h)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"200 OK" in sock.recv(4096)
    # The connection is reused within the timeout...
    time.sleep(0.5)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"200 OK" in sock.recv(4096)
    # ...and closed once idle for longer, without counting as an attack.
    after = await asyncio.to_thread(closed_within, sock, 4)
    assert after is not None and 0.8 <= after <= 3, after
    sock.close()
    assert (await limit_rejections(h))["request_timeout"] == 0


async def test_every_limit_has_a_metric(hub):
    assert set(await limit_rejections(hub)) == {
        "connections_per_ip", "connections_per_user", "connect_rate_per_ip",
        "subscriptions_per_connection", "publish_rate_per_connection", "api_rate_per_key",
        "request_timeout", "subscribe_rate_per_connection", "publish_rate_per_user", "broadcast_topics"}

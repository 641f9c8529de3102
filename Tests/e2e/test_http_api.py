"""HTTP API: publish, broadcast, per-user send/disconnect, topics, connections, stats,
health/ready/metrics, and JSON error bodies."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from conftest import (SECRET, bearer, parse_metrics, hs256, http_publish, recv_frame, recv_until_closed,
                      roundtrip, sse_connect, stats, wait_for, ws_connect, ws_connect_as)

API_KEY = "http-api-test-key"


def unique(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def assert_error(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body


@pytest.fixture
def keyed_hub(hub_factory):
    """A hub with a JWT secret and an API key (users, authenticated API)."""
    return hub_factory(["--jwt-secret", SECRET, "--api-key", API_KEY])


# -- publish / broadcast ------------------------------------------------------------------------

async def test_publish_returns_message_id_and_delivers(hub):
    topic = unique("api.")
    async with await ws_connect(hub.ws(topics=[topic])) as ws, hub.http() as c:
        assert await recv_frame(ws) == {"type": "subscribed", "topic": topic}
        r = await c.post("/api/publish", json={"topic": topic, "event": "created", "data": {"id": 1}})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/json")
        body = r.json()
        assert isinstance(body["message_id"], str) and body["message_id"]
        m = await recv_frame(ws)
        assert m["type"] == "message" and m["topic"] == topic and m["event"] == "created"
        assert m["data"] == {"id": 1} and m["message_id"] == body["message_id"]

        r = await c.post("/api/publish", json={"topic": topic, "data": None})
        assert r.status_code == 200, r.text
        m = await recv_frame(ws)
        assert m["event"] == "message" and m["data"] is None and m["message_id"] == r.json()["message_id"]


async def test_broadcast_publishes_to_every_topic(hub):
    base = unique("bc")
    topics = [f"{base}.a", f"{base}.b", f"{base}:c"]
    async with await ws_connect(hub.ws(topics=topics)) as ws, \
            await ws_connect(hub.ws(topics=[f"{base}.*"])) as pat, hub.http() as c:
        for _ in topics:
            assert (await recv_frame(ws))["type"] == "subscribed"
        assert (await recv_frame(pat))["type"] == "subscribed"
        r = await c.post("/api/broadcast", json={"topics": topics, "event": "tick", "data": [1]})
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert [x["topic"] for x in results] == topics
        ids = [x["message_id"] for x in results]
        assert all(isinstance(i, str) and i for i in ids) and len(set(ids)) == 3

        got = [await recv_frame(ws) for _ in topics]
        assert sorted((m["topic"], m["message_id"]) for m in got) == sorted(zip(topics, ids))
        assert all(m["event"] == "tick" and m["data"] == [1] for m in got)

        # the `base.*` pattern matches base.a and base.b, not base:c (a different first segment)
        got = [await recv_frame(pat) for _ in range(2)]
        assert sorted(m["topic"] for m in got) == [f"{base}.a", f"{base}.b"]
        assert all(m["sub"] == f"{base}.*" for m in got)
        assert await roundtrip(pat, {"type": "ping", "id": 1}) == {"type": "pong", "id": 1}


# -- users ------------------------------------------------------------------------------------

async def test_send_to_user_reaches_all_its_connections(keyed_hub):
    h = keyed_hub
    bob = hs256(SECRET, "bob")
    async with await ws_connect_as(h.ws(), bob, "bob") as b1, \
            await ws_connect_as(h.ws(), bob, "bob", via="query") as b2, \
            await ws_connect_as(h.ws(), hs256(SECRET, "carol"), "carol") as carol, \
            h.http(headers=bearer(API_KEY)) as c:
        r = await c.post("/api/users/bob/send", json={"event": "notice", "data": {"unread": 3}})
        assert r.status_code == 200, r.text
        mid = r.json()["message_id"]
        for ws in (b1, b2):
            m = await recv_frame(ws)
            assert m["type"] == "message" and m["topic"] == "direct", m
            assert m["event"] == "notice" and m["data"] == {"unread": 3} and m["message_id"] == mid
        assert await roundtrip(carol, {"type": "ping", "id": 1}) == {"type": "pong", "id": 1}


async def test_send_to_user_reaches_sse_connection(keyed_hub):
    h = keyed_hub
    async with sse_connect(h, topics=["some.topic"], headers=bearer(hs256(SECRET, "dora"))) as stream, \
            h.http(headers=bearer(API_KEY)) as c:
        async def connected():
            conns = (await c.get("/api/connections")).json()["connections"]
            return any(x["user"] == "dora" and x["transport"] == "sse" for x in conns)
        await wait_for(connected, what="dora's SSE connection")
        r = await c.post("/api/users/dora/send", json={"event": "hello", "data": "sse"})
        assert r.status_code == 200, r.text
        ev = await stream.next_event()
        assert ev.event == "hello"
        assert ev.json()["topic"] == "direct" and ev.json()["data"] == "sse"
        assert ev.json()["message_id"] == r.json()["message_id"]


async def test_disconnect_user(keyed_hub):
    h = keyed_hub
    eve = hs256(SECRET, "eve")
    async with await ws_connect_as(h.ws(), eve, "eve") as e1, await ws_connect_as(h.ws(), eve, "eve") as e2, \
            await ws_connect_as(h.ws(), hs256(SECRET, "frank"), "frank") as frank, \
            h.http(headers=bearer(API_KEY)) as c:
        r = await c.post("/api/users/eve/disconnect", json={"reason": "account suspended", "reconnect": False})
        assert r.status_code == 202, r.text
        assert r.headers["content-type"].startswith("application/json")
        for ws in (e1, e2):
            frames, code, _ = await recv_until_closed(ws)
            assert len(frames) == 1, frames
            d = frames[0]
            assert d["type"] == "disconnect" and d["reason"] == "account suspended" and d["reconnect"] is False, d
            assert code == d["code"], (code, d)
        assert await roundtrip(frank, {"type": "ping", "id": 1}) == {"type": "pong", "id": 1}

        async def gone():
            conns = (await c.get("/api/connections")).json()["connections"]
            return not any(x["user"] == "eve" for x in conns)
        await wait_for(gone, what="eve's connections to be gone")


async def test_disconnect_user_reconnect_true(keyed_hub):
    h = keyed_hub
    async with await ws_connect_as(h.ws(), hs256(SECRET, "gina"), "gina") as ws, \
            h.http(headers=bearer(API_KEY)) as c:
        r = await c.post("/api/users/gina/disconnect", json={"reconnect": True})
        assert r.status_code == 202, r.text
        frames, code, _ = await recv_until_closed(ws)
        assert [f["type"] for f in frames] == ["disconnect"]
        assert frames[0]["reconnect"] is True and code == frames[0]["code"]


# -- introspection -----------------------------------------------------------------------------

async def test_topics_lists_subscriber_counts(hub):
    base = unique("tp")
    async with await ws_connect(hub.ws(topics=[f"{base}.x", f"{base}.*"])) as a, \
            await ws_connect(hub.ws(topics=[f"{base}.x"])) as b, hub.http() as c:
        for _ in range(2):
            assert (await recv_frame(a))["type"] == "subscribed"
        assert (await recv_frame(b))["type"] == "subscribed"
        r = await c.get("/api/topics")
        assert r.status_code == 200
        entries = {t["topic"]: t["subscribers"] for t in r.json()["topics"] if t["topic"].startswith(base)}
        assert entries == {f"{base}.x": 2, f"{base}.*": 1}


async def test_connections_lists_each_connection(keyed_hub):
    h = keyed_hub
    before = int(time.time() * 1000)
    async with await ws_connect_as(h.ws(), hs256(SECRET, "ivan"), "ivan") as ws, \
            sse_connect(h, topics=["x"], headers=bearer(hs256(SECRET, "judy"))), \
            h.http(headers=bearer(API_KEY)) as c:
        async def both():
            conns = (await c.get("/api/connections")).json()["connections"]
            return conns if len(conns) == 2 else None
        conns = await wait_for(both, what="two connections")
        by_user = {x["user"]: x for x in conns}
        assert set(by_user) == {"ivan", "judy"}
        assert by_user["ivan"]["transport"] == "websocket" and by_user["judy"]["transport"] == "sse"
        for x in conns:
            assert set(x) >= {"client", "user", "transport", "remote_address", "connected_at"}, x
            assert x["remote_address"] == "127.0.0.1"
            assert isinstance(x["client"], str) and x["client"]
            assert before - 1000 <= x["connected_at"] <= int(time.time() * 1000) + 1000, x
        assert by_user["ivan"]["client"] != by_user["judy"]["client"]
        await ws.close()


async def test_stats_and_metrics_exact_counts(hub_factory):
    # one event loop: exact counts of everything (the multi-loop case has its own test below)
    h = hub_factory(["--threads", "1"])
    async with await ws_connect(h.ws(topics=["s.a", "s.*"])) as w1, await ws_connect(h.ws(topics=["s.a"])) as w2, \
            sse_connect(h, topics=["s.a"]), h.http() as c:
        for _ in range(2):
            assert (await recv_frame(w1))["type"] == "subscribed"
        assert (await recv_frame(w2))["type"] == "subscribed"

        async def sse_ready():
            return (await stats(h))["connections"]["by_transport"]["sse"] == 1
        await wait_for(sse_ready, what="SSE connection counted")

        r = await c.post("/api/publish", json={"topic": "s.a", "data": "x"})
        assert r.status_code == 200
        m1, m2 = await recv_frame(w1), await recv_frame(w2)
        assert m1["message_id"] == m2["message_id"] == r.json()["message_id"]
        err = await roundtrip(w2, {"type": "subscribe", "topic": "bad..topic", "id": 1})
        assert err["code"] == "bad_request"

        async def delivered():
            s = await stats(h)
            return s if s["messages"]["delivered"] == 3 else None
        s = await wait_for(delivered, what="3 deliveries counted")
        assert s["connections"] == {"total": 3, "by_transport": {"websocket": 2, "sse": 1}}
        assert s["subscriptions"] == 4
        assert s["topics"] == 2
        assert s["messages"]["published"] == 1
        assert s["messages"]["bytes_out"] > 0
        assert s["errors"]["bad_request"] == 1
        assert all(v == 0 for k, v in s["errors"].items() if k != "bad_request"), s["errors"]
        assert isinstance(s["uptime_seconds"], (int, float)) and s["uptime_seconds"] >= 0

        r = await c.get("/metrics")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain"), r.headers
        m = parse_metrics(r.text)
        assert m['chorus_connections{transport="websocket"}'] == 2
        assert m['chorus_connections{transport="sse"}'] == 1
        assert m["chorus_subscriptions"] == 4
        assert m["chorus_topics"] == 2
        assert m["chorus_messages_published_total"] == 1
        assert m["chorus_messages_delivered_total"] == 3
        assert m["chorus_bytes_out_total"] == s["messages"]["bytes_out"]
        assert m['chorus_errors_total{code="bad_request"}'] == 1
        # one observation per (message, event loop) that fanned it out: 1 message x 1 loop
        assert m["chorus_delivery_latency_seconds_count"] == 1
        assert m['chorus_delivery_latency_seconds_bucket{le="+Inf"}'] == 1
        assert "chorus_delivery_latency_seconds_sum" in m
        assert "# TYPE chorus_delivery_latency_seconds histogram" in r.text


async def test_metrics_gauges_agree_with_stats_across_event_loops(hub_factory):
    """With several event loops, connections on one topic are spread over loops; /metrics must
    still count the topic once, as /api/stats and /api/topics do."""
    h = hub_factory(["--threads", "4"])
    conns = [await ws_connect(h.ws(topics=["shared.topic"])) for _ in range(8)]
    try:
        for ws in conns:
            assert await recv_frame(ws) == {"type": "subscribed", "topic": "shared.topic"}
        async with h.http() as c:
            topics = (await c.get("/api/topics")).json()["topics"]
            s = (await c.get("/api/stats")).json()
            m = parse_metrics((await c.get("/metrics")).text)
        assert topics == [{"topic": "shared.topic", "subscribers": 8}]
        assert s["topics"] == 1 and s["subscriptions"] == 8 and s["connections"]["total"] == 8
        assert m["chorus_subscriptions"] == 8
        assert m['chorus_connections{transport="websocket"}'] == 8
        assert m["chorus_topics"] == s["topics"], (m["chorus_topics"], s["topics"])
    finally:
        for ws in conns:
            await ws.close()


async def test_health_and_ready(hub):
    async with hub.http() as c:
        for path in ("/health", "/ready"):
            r = await c.get(path)
            assert r.status_code == 200, (path, r.text)
            assert r.headers["content-type"].startswith("application/json")
            assert isinstance(r.json(), dict)


# -- errors ------------------------------------------------------------------------------------

async def test_unknown_path_is_json_404(hub):
    async with hub.http() as c:
        assert_error(await c.get("/nope"), 404, "not_found")
        assert_error(await c.get("/api/nothing-here"), 404, "not_found")
        assert_error(await c.post("/api/users/bob/unknown-action", json={}), 404, "not_found")


async def test_bad_json_body_is_400(hub):
    async with hub.http() as c:
        for path in ("/api/publish", "/api/broadcast", "/api/users/bob/send"):
            assert_error(await c.post(path, content=b"{not json", headers={"content-type": "application/json"}),
                         400, "bad_request")
            assert_error(await c.post(path, json=[1, 2]), 400, "bad_request")


@pytest.mark.parametrize("body", [
    {"data": 1},                           # missing topic
    {"topic": "a.b"},                      # missing data
    {"topic": 5, "data": 1},               # wrong type
    {"topic": "a.b", "data": 1, "event": 5},
    {"topic": "a..b", "data": 1},          # bad topic
    {"topic": "", "data": 1},
    {"topic": "a.*", "data": 1},           # pattern
    {"topic": "a.**", "data": 1},
    {"topic": "x" * 256, "data": 1},       # longer than 255 bytes
    {"topic": ".".join(["s"] * 17), "data": 1},  # more than 16 segments
    {"topic": "bad topic", "data": 1},     # space is not a segment character
])
async def test_publish_rejects_bad_bodies(hub, body):
    async with hub.http() as c:
        assert_error(await c.post("/api/publish", json=body), 400, "bad_request")


@pytest.mark.parametrize("body", [
    {"data": 1},
    {"topics": [], "data": 1},
    {"topics": "a.b", "data": 1},
    {"topics": ["a.b"]},
    {"topics": ["a.b", "a.*"], "data": 1},
    {"topics": ["a.b", 7], "data": 1},
])
async def test_broadcast_rejects_bad_bodies(hub, body):
    async with hub.http() as c:
        assert_error(await c.post("/api/broadcast", json=body), 400, "bad_request")


async def test_rejected_broadcast_publishes_nothing(hub):
    base = unique("atomic")
    async with await ws_connect(hub.ws(topics=[f"{base}.ok"])) as ws, hub.http() as c:
        assert (await recv_frame(ws))["type"] == "subscribed"
        assert_error(await c.post("/api/broadcast", json={"topics": [f"{base}.ok", "bad..t"], "data": 1}),
                     400, "bad_request")
        await http_publish(hub, f"{base}.ok", "sentinel")
        m = await recv_frame(ws)
        assert m["data"] == "sentinel", "a rejected broadcast must not have published its valid topics"


async def test_publish_valid_topic_edge_cases(hub):
    async with hub.http() as c:
        for topic in ("A-Z_a-z:0-9@=.x", "x" * 255, ".".join(["s"] * 16)):
            r = await c.post("/api/publish", json={"topic": topic, "data": 1})
            assert r.status_code == 200, (topic, r.text)


async def test_publish_data_too_large_is_413(hub_factory):
    h = hub_factory(["--max-publish-size", "1KiB"])
    async with h.http() as c:
        ok = await c.post("/api/publish", json={"topic": "big", "data": "x" * 1000})
        assert ok.status_code == 200, ok.text
        assert_error(await c.post("/api/publish", json={"topic": "big", "data": "x" * 1100}), 413, "too_large")
        assert_error(await c.post("/api/broadcast", json={"topics": ["big"], "data": "x" * 1100}), 413, "too_large")
        assert_error(await c.post("/api/users/u/send", json={"data": "x" * 1100}), 413, "too_large")


async def test_body_larger_than_max_message_size_is_413(hub_factory):
    h = hub_factory(["--max-message-size", "4KiB"])
    body = b'{"topic":"big","data":"' + b"x" * 5000 + b'"}'
    async with h.http() as c:
        for path in ("/api/publish", "/api/broadcast"):
            assert_error(await c.post(path, content=body, headers={"content-type": "application/json"}),
                         413, "too_large")


async def test_default_body_limit_is_1mib(hub):
    body = b'{"topic":"big","data":"' + b"x" * (1024 * 1024 + 16) + b'"}'
    async with hub.http() as c:
        assert_error(await c.post("/api/publish", content=body, headers={"content-type": "application/json"}),
                     413, "too_large")


@pytest.mark.parametrize("user", ["a b", "x/y", "\u00fcn\u00ef", "alice@example.com", "50%off"],
                         ids=["space", "slash", "non-ascii", "at-sign", "percent"])
async def test_user_ids_are_percent_decoded_in_paths(keyed_hub, user):
    """`sub` may be any string; /api/users/{user}/... takes it percent-encoded (RFC 3986)."""
    from urllib.parse import quote
    h = keyed_hub
    path_user = quote(user, safe="")
    async with await ws_connect_as(h.ws(), hs256(SECRET, user), user) as ws, \
            h.http(headers=bearer(API_KEY)) as c:
        r = await c.post(f"/api/users/{path_user}/send", json={"event": "hi", "data": user})
        assert r.status_code == 200, r.text
        m = await recv_frame(ws)
        assert m["topic"] == "direct" and m["data"] == user and m["message_id"] == r.json()["message_id"], m
        r = await c.post(f"/api/users/{path_user}/disconnect", json={"reason": "bye"})
        assert r.status_code == 202, r.text
        frames, code, _ = await recv_until_closed(ws)
        assert [f["type"] for f in frames] == ["disconnect"] and frames[0]["reason"] == "bye", frames


async def test_cross_site_requests_are_refused(hub_factory):
    """A disallowed Origin used to be served (only the CORS header was left off), and a
    text/plain form post reached a development-mode hub: both are refused before anything
    runs, and nothing is published."""
    h = hub_factory(["--allowed-origins", "https://app.example"])
    async with await ws_connect(h.ws(topics=["csrf"])) as ws:
        assert (await recv_frame(ws))["type"] == "subscribed"
        async with h.http() as c:
            r = await c.post("/api/publish", json={"topic": "csrf", "data": 1}, headers={"Origin": "https://evil.example"})
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", r.text
            assert "allowed_origins" in r.json()["error"]["message"]
            r = await c.get("/api/stats", headers={"Origin": "https://evil.example"})
            assert r.status_code == 403, r.text
            for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
                r = await c.post("/api/publish", content=b'{"topic":"csrf","data":2}', headers={"Content-Type": content_type})
                assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type", (content_type, r.text)
            # JSON, with or without parameters, from an allowed origin or none, is served.
            for headers in ({"Content-Type": "application/json; charset=utf-8"}, {"Origin": "https://app.example"}, {}):
                r = await c.post("/api/publish", content=b'{"topic":"csrf","data":3}', headers=headers)
                assert r.status_code == 200, (headers, r.text)
        for _ in range(3):
            assert (await recv_frame(ws))["data"] == 3
        with pytest.raises(pytest.fail.Exception):
            await recv_frame(ws, 0.3)

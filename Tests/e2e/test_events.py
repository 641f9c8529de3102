"""The event bus with real hub processes (docs/event-bus.md): publish over HTTP, durable before
the answer, duplicates, schemas, consumers from configuration and the API, the bridge to
WebSocket subscribers, retries on a schedule, the dead-letter queue and its retry and clear,
replay, and a `kill -9` that loses neither an acknowledged event nor a pending delivery.

Webhook consumers point at a real Python HTTP endpoint that answers as each test scripts it; the
attempts are checked from both sides: the endpoint's records (signatures verified with the
`standardwebhooks` package, an independent implementation) and the dead-letter queue's.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from standardwebhooks.webhooks import Webhook

from conftest import recv_type, subscribe, wait_for, ws_connect

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class FailingEndpoint:
    """An HTTP endpoint recording each POST's time, headers and body, and answering with
    `script(n)` for the n-th request (from 0): a status, or (status, headers, seconds to wait
    before answering). By default every request gets 503."""

    def __init__(self, status: int = 503, script=None):
        self.requests: list[tuple[float, dict[str, str], bytes]] = []
        self.script = script or (lambda n: status)
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                index = len(endpoint.requests)
                endpoint.requests.append((time.time(), {k.lower(): v for k, v in self.headers.items()}, body))
                answer = endpoint.script(index)
                code, headers, wait = answer if isinstance(answer, tuple) else (answer, {}, 0)
                time.sleep(wait)
                try:
                    self.send_response(code)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the hub gave up on the request (killed, or its timeout)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    e = FailingEndpoint()
    yield e
    e.close()


def consumers_arg(*consumers: dict) -> list[str]:
    return ["--event-consumers", json.dumps(list(consumers))]


BRIDGE = {"name": "bridge", "types": ["order.*"], "target": {"bridge": {"topics": ["events.{type}", "orders.{data.customer}"]}}}


async def publish(h, body: dict, status: int = 200) -> dict:
    async with h.http() as c:
        r = await c.post("/api/events/publish", json=body)
    assert r.status_code == status, (r.status_code, r.text)
    return r.json()


async def get(h, path: str, **params) -> dict:
    async with h.http() as c:
        r = await c.get(path, params=params)
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()


async def test_a_bridged_event_reaches_websocket_subscribers_once_and_a_duplicate_is_not_delivered(hub_factory):
    h = hub_factory(consumers_arg(BRIDGE))
    async with await ws_connect(h.ws()) as ws:
        await subscribe(ws, "events.order.created")
        await subscribe(ws, "orders.c42")
        first = await publish(h, {"type": "order.created", "data": {"customer": "c42", "total": 5}, "event_id": "o-1", "partition_key": "c42"})
        again = await publish(h, {"type": "order.created", "data": {"customer": "c42", "total": 5}, "event_id": "o-1"})
        assert first["duplicate"] is False and again["duplicate"] is True
        assert again["sequence"] == first["sequence"] and again["timestamp"] == first["timestamp"]
        seen = [await recv_type(ws, "message"), await recv_type(ws, "message")]
        assert sorted(m["topic"] for m in seen) == ["events.order.created", "orders.c42"]
        for m in seen:
            assert m["data"]["event_id"] == "o-1" and m["data"]["data"] == {"customer": "c42", "total": 5}
            assert m["data"]["sequence"] == first["sequence"] and m["data"]["partition_key"] == "c42"
        # The duplicate was not bridged: the next message is the next event.
        await publish(h, {"type": "order.created", "data": {"customer": "c42"}, "event_id": "o-2"})
        nxt = await recv_type(ws, "message")
        assert nxt["data"]["event_id"] == "o-2"
    stats = await get(h, "/api/events/stats")
    assert stats["published"] == 2 and stats["log"]["events"] == 2
    await wait_for(lambda: get(h, "/api/events/stats"), what="stats")
    consumer = (await get(h, "/api/events/stats"))["consumers"][0]
    assert consumer["name"] == "bridge" and consumer["lag"] == 0


async def test_schemas_refuse_bad_data_with_the_pointer_and_bad_input_gets_clear_4xx(hub_factory):
    schema = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}
    h = hub_factory(["--event-schemas", json.dumps({"order.created": schema})])
    bad = await publish(h, {"type": "order.created", "data": {"id": "x"}}, status=422)
    assert bad["error"]["code"] == "invalid_event"
    assert bad["error"]["violations"] == [{"instance_location": "/id", "keyword_location": "/properties/id/type", "message": "expected integer, got string"}]
    missing = await publish(h, {"type": "order.created", "data": {}}, status=422)
    assert missing["error"]["violations"][0]["instance_location"] == ""
    for body, code in [
        ({"type": "order.*", "data": 1}, "bad_request"),
        ({"type": "order.created"}, "bad_request"),
        ({"type": "x", "data": 1, "event_id": "e" * 129}, "bad_request"),
        ({"type": "x", "data": 1, "colour": "red"}, "bad_request"),
        ({"type": "x", "data": "a" * 70000}, "too_large"),
        ({"events": []}, "bad_request"),
    ]:
        r = await publish(h, body, status=413 if code == "too_large" else 400)
        assert r["error"]["code"] == code, (body, r)
    async with h.http() as c:
        r = await c.put("/api/events/schemas/user.created", json={"$ref": "#/x"})
        assert r.status_code == 400 and "$ref" in r.json()["error"]["message"]
        r = await c.put("/api/events/consumers/c1", json={"types": ["a"], "target": {"handler": "h"}, "filter": "a = 1"})
        assert r.status_code == 400 and "invalid filter at column" in r.json()["error"]["message"]
        r = await c.get("/api/events/consumers/nobody")
        assert r.status_code == 404
    # A batch is one commit, in order.
    batch = await publish(h, {"events": [{"type": "order.created", "data": {"id": n}} for n in range(5)]})
    assert [r["sequence"] for r in batch["results"]] == sorted(r["sequence"] for r in batch["results"])


async def test_retries_follow_the_schedule_then_the_dlq_fills_retry_redelivers_and_clear_empties(hub_factory, endpoint):
    consumer = {"name": "hook", "types": ["**"], "retry": [0.5, 1.0],
                "target": {"webhook": {"url": endpoint.url, "secrets": [SECRET]}}}
    h = hub_factory(consumers_arg(consumer))
    await publish(h, {"type": "order.created", "data": {"n": 1}, "event_id": "d-1"})

    async def dead():
        return (await get(h, "/api/events/dlq", consumer="hook"))["dead_letters"]
    letters = await wait_for(dead, timeout=15, what="the dead letter")
    attempts = letters[0]["attempts"]
    assert [a["number"] for a in attempts] == [1, 2, 3]
    gaps = [(b["at"] - a["at"]) / 1000 for a, b in zip(attempts, attempts[1:])]
    assert 0.45 <= gaps[0] <= 1.5 and 0.95 <= gaps[1] <= 2.0, gaps
    assert letters[0]["event"]["event_id"] == "d-1"
    stats = await get(h, "/api/events/stats")
    assert stats["dlq_size"] == 1 and stats["dead_lettered"] == 1 and stats["retried"] == 2

    async with h.http() as c:
        r = await c.post("/api/events/dlq/retry", json={"consumer": "hook"})
        assert r.json() == {"retried": 1}
        letters = await wait_for(dead, timeout=15, what="the dead letter again")
        assert [a["number"] for a in letters[0]["attempts"]] == [1, 2, 3, 1, 2, 3]
        r = await c.request("DELETE", "/api/events/dlq/clear", json={"all": True})
        assert r.json() == {"cleared": 1}
    assert await dead() == []


async def test_a_failing_key_holds_only_its_own_events(hub_factory, endpoint):
    # "fail" events go to a failing webhook: they are dead-lettered in key order, one at a time;
    # the other key, bridged, goes on meanwhile.
    hook = {"name": "hook", "types": ["fail"], "retry": [0.3, 0.3], "target": {"webhook": {"url": endpoint.url, "secrets": [SECRET]}}}
    h = hub_factory(consumers_arg(hook, {"name": "bridge", "types": ["ok"], "target": {"bridge": {"topics": ["ok"]}}}))
    async with await ws_connect(h.ws()) as ws:
        await subscribe(ws, "ok")
        for n in range(3):
            await publish(h, {"type": "fail", "data": {"n": n}, "partition_key": "k"})
            await publish(h, {"type": "ok", "data": {"n": n}, "partition_key": "j"})
        got = [(await recv_type(ws, "message"))["data"]["data"]["n"] for _ in range(3)]
        assert got == [0, 1, 2]

    async def dead():
        return (await get(h, "/api/events/dlq", consumer="hook"))["dead_letters"]
    letters = await wait_for(lambda: _at_least(dead, 3), timeout=20, what="three dead letters")
    assert [d["event"]["data"]["n"] for d in letters] == [0, 1, 2]
    # One key, one at a time: each event's first attempt comes after the previous one's last.
    for before, after in zip(letters, letters[1:]):
        assert after["attempts"][0]["at"] >= before["attempts"][-1]["at"]


async def _at_least(fetch, n):
    items = await fetch()
    return items if len(items) >= n else None


async def test_replay_redelivers_exactly_the_range(hub_factory):
    h = hub_factory(consumers_arg(BRIDGE))
    async with await ws_connect(h.ws()) as ws:
        await subscribe(ws, "events.order.created")
        receipts = []
        for n in range(3):
            receipts.append(await publish(h, {"type": "order.created", "data": {"customer": "c", "n": n}}))
            time.sleep(0.02)
        for _ in range(3):
            await recv_type(ws, "message")
        async with h.http() as c:
            r = await c.post("/api/events/replay", json={"from": receipts[1]["timestamp"], "to": receipts[1]["timestamp"] + 1, "consumer": "bridge"})
            assert r.status_code == 200 and r.json() == {"replayed": {"bridge": 1}}, r.text
        m = await recv_type(ws, "message")
        assert m["data"]["sequence"] == receipts[1]["sequence"]
        with pytest.raises(pytest.fail.Exception):
            await recv_type(ws, "message", timeout=0.5)


async def test_kill9_loses_no_acknowledged_event_nor_pending_delivery_and_api_consumers_survive(restartable_hub, tmp_path, endpoint):
    r = restartable_hub([], cwd=tmp_path)
    h = r.start()
    hook = {"types": ["**"], "retry": [1.0, 1.0], "target": {"webhook": {"url": endpoint.url, "secrets": [SECRET]}}}
    async with h.http() as c:
        assert (await c.put("/api/events/consumers/hook", json=hook)).status_code == 200
    receipts = [await publish(h, {"type": "order.created", "data": {"n": n}, "event_id": f"k-{n}"}) for n in range(20)]
    # Mid-delivery: attempts have started and are waiting for their retry.
    await wait_for(lambda: len(endpoint.requests) >= 1, what="an attempt")
    r.kill9()
    h = r.start()
    log = await get(h, "/api/events/log", limit=100)
    assert sorted(e["event_id"] for e in log["events"]) == sorted(x["event_id"] for x in receipts)
    consumers = await get(h, "/api/events/consumers")
    assert [c["name"] for c in consumers["consumers"]] == ["hook"]
    # Every event is still delivered (to the dead-letter queue, as the endpoint always fails).

    async def dead():
        return (await get(h, "/api/events/dlq", consumer="hook", limit=100))["dead_letters"]
    letters = await wait_for(lambda: _at_least(dead, 20), timeout=30, what="every event dead-lettered")
    assert sorted(d["event"]["event_id"] for d in letters) == sorted(x["event_id"] for x in receipts)
    again = await publish(h, {"type": "order.created", "data": {"n": 0}, "event_id": "k-0"})
    assert again["duplicate"] is True and again["sequence"] == receipts[0]["sequence"]


async def test_on_postgresql_two_nodes_share_the_log_and_a_consumer_is_delivered_once(hub_factory, postgres_server):
    # The cluster's store: both nodes append to one log; the bridge consumer's partitions are
    # leased, so each event is bridged by exactly one node. Without a Redis broker a bridged
    # message reaches that node's subscribers only: subscribe on both, count across them.
    url = postgres_server.create_database("events")
    args = ["--postgres-url", url, *consumers_arg(BRIDGE)]
    first = hub_factory([*args, "--node-id", "n1"])
    second = hub_factory([*args, "--node-id", "n2"])
    async with await ws_connect(first.ws()) as ws1, await ws_connect(second.ws()) as ws2:
        await subscribe(ws1, "events.order.created")
        await subscribe(ws2, "events.order.created")
        receipts = [await publish(h, {"type": "order.created", "data": {"customer": "c", "n": n}, "event_id": f"pg-{n}"})
                    for n, h in enumerate([first, second, first, second])]
        assert len({r["sequence"] for r in receipts}) == 4
        dup = await publish(second, {"type": "order.created", "data": {"customer": "c", "n": 0}, "event_id": "pg-0"})
        assert dup["duplicate"] is True and dup["sequence"] == receipts[0]["sequence"]
        got: list[str] = []

        async def drain(ws):
            while True:
                try:
                    got.append((await recv_type(ws, "message", timeout=3))["data"]["event_id"])
                except pytest.fail.Exception:
                    return
        await asyncio.gather(drain(ws1), drain(ws2))
        assert sorted(got) == ["pg-0", "pg-1", "pg-2", "pg-3"]
    log = await get(second, "/api/events/log")
    assert [e["event_id"] for e in log["events"]] == ["pg-3", "pg-2", "pg-1", "pg-0"]


def verified(request: tuple[float, dict[str, str], bytes]) -> dict:
    """The request's JSON body once `standardwebhooks` accepts its signature (its clock set to the request's time)."""
    at, headers, body = request
    hook = Webhook(SECRET)
    return hook.verify(body, {"webhook-id": headers["webhook-id"], "webhook-timestamp": headers["webhook-timestamp"],
                              "webhook-signature": headers["webhook-signature"]})


async def test_a_webhook_delivery_is_signed_as_standard_webhooks_verify_it_and_counts_as_delivered(hub_factory):
    endpoint = FailingEndpoint(status=204)
    try:
        hook = {"name": "hook", "types": ["order.*"], "target": {"webhook": {"url": endpoint.url, "secrets": [SECRET], "headers": {"X-Tenant": "acme"}}}}
        h = hub_factory(consumers_arg(hook))
        receipt = await publish(h, {"type": "order.created", "data": {"id": 7, "note": "é"}, "event_id": "w-1",
                                    "partition_key": "c-1", "correlation_id": "req-9", "headers": {"origin": "shop"}})
        await wait_for(lambda: endpoint.requests, timeout=10, what="the webhook request")
        request = endpoint.requests[0]
        envelope = verified(request)
        assert envelope == {"sequence": receipt["sequence"], "event_id": "w-1", "type": "order.created", "data": {"id": 7, "note": "é"},
                            "timestamp": receipt["timestamp"], "correlation_id": "req-9", "partition_key": "c-1",
                            "headers": {"origin": "shop"}}
        headers = request[1]
        assert headers["webhook-id"] == "w-1" and headers["x-tenant"] == "acme" and headers["content-type"] == "application/json"
        assert abs(int(headers["webhook-timestamp"]) - request[0]) < 5

        async def delivered():
            stats = await get(h, "/api/events/stats")
            return stats if stats["delivered"] == 1 else None
        stats = await wait_for(delivered, timeout=10, what="the delivery counted")
        consumer = next(c for c in stats["consumers"] if c["name"] == "hook")
        assert consumer["pending"] == 0 and consumer["dead_letters"] == 0 and stats["dlq_size"] == 0
        time.sleep(0.5)
        assert len(endpoint.requests) == 1, "delivered once"
    finally:
        endpoint.close()


async def test_a_webhook_retried_after_failures_keeps_its_id_and_honours_retry_after(hub_factory):
    # 500, then 503 asking for 2 s (longer than the 0.2 s schedule), then 200.
    answers = {0: 500, 1: (503, {"Retry-After": "2"}, 0)}
    endpoint = FailingEndpoint(script=lambda n: answers.get(n, 200))
    try:
        hook = {"name": "hook", "types": ["**"], "retry": [0.2, 0.2, 0.2], "target": {"webhook": {"url": endpoint.url, "secrets": [SECRET]}}}
        h = hub_factory(consumers_arg(hook))
        await publish(h, {"type": "order.created", "data": {"n": 1}, "event_id": "r-1"})
        await wait_for(lambda: len(endpoint.requests) >= 3, timeout=15, what="three attempts")
        times = [r[0] for r in endpoint.requests]
        assert 0.15 <= times[1] - times[0] <= 1.5, times
        assert times[2] - times[1] >= 1.9, ("Retry-After: 2 lengthens the 0.2 s delay", times)
        assert {r[1]["webhook-id"] for r in endpoint.requests} == {"r-1"}
        assert all(verified(r)["event_id"] == "r-1" for r in endpoint.requests)
        time.sleep(0.5)
        assert len(endpoint.requests) == 3 and (await get(h, "/api/events/dlq"))["dead_letters"] == []
    finally:
        endpoint.close()


async def test_410_gone_disables_the_webhook_consumer_durably(hub_factory):
    endpoint = FailingEndpoint(status=410)
    try:
        # One delivery at a time, so the second event's attempt would come after the 410.
        hook = {"name": "hook", "types": ["**"], "concurrency": 1, "target": {"webhook": {"url": endpoint.url, "secrets": [SECRET]}}}
        h = hub_factory(consumers_arg(hook))
        await publish(h, {"type": "a", "data": 1})
        await publish(h, {"type": "a", "data": 2})

        async def disabled():
            consumer = await get(h, "/api/events/consumers/hook")
            return consumer if consumer["enabled"] is False else None
        await wait_for(disabled, timeout=10, what="the consumer disabled")
        time.sleep(1.0)
        assert len(endpoint.requests) == 1, "no attempt after the 410"
    finally:
        endpoint.close()


async def test_kill9_while_the_endpoint_holds_the_request_redelivers_after_the_restart(restartable_hub, tmp_path):
    # The first request is held (the hub is killed while waiting for the answer); later ones succeed.
    endpoint = FailingEndpoint(script=lambda n: (200, {}, 30) if n == 0 else 200)
    try:
        r = restartable_hub([], cwd=tmp_path)
        h = r.start()
        hook = {"types": ["**"], "target": {"webhook": {"url": endpoint.url, "secrets": [SECRET]}}}
        async with h.http() as c:
            assert (await c.put("/api/events/consumers/hook", json=hook)).status_code == 200
        await publish(h, {"type": "order.created", "data": {"n": 1}, "event_id": "held-1"})
        await wait_for(lambda: endpoint.requests, timeout=10, what="the held request")
        r.kill9()
        h = r.start()
        await wait_for(lambda: len(endpoint.requests) >= 2, timeout=20, what="the delivery again after the restart")
        assert [verified(x)["event_id"] for x in endpoint.requests[:2]] == ["held-1", "held-1"]

        async def done():
            stats = await get(h, "/api/events/stats")
            consumer = next(c for c in stats["consumers"] if c["name"] == "hook")
            return consumer if consumer["pending"] == 0 else None
        await wait_for(done, timeout=15, what="nothing pending")
    finally:
        endpoint.close()


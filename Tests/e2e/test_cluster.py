"""A cluster of three hub processes on one Redis (``broker: redis``), each test with its own
Redis and hubs on loopback, started and stopped by pid: publishes reach every node in one
order exactly once, a client recovers on another node, a node killed with SIGKILL loses no
acknowledged message, Redis restarts (with and without persistence) are survived, and
PostgreSQL outages only affect what needs PostgreSQL."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from conftest import (RedisServer, free_port, http_publish, recv_frame, recv_type, send, subscribe, wait_for,
                      ws_connect)

NAMESPACES = json.dumps({"chat": {"history_size": 10000}})
SUBSCRIBER = Path(__file__).parent / "js" / "cluster-subscriber.mjs"


def start_cluster(hub_factory, redis: RedisServer, count: int = 3, extra: list[str] | None = None):
    """``count`` hubs on ``redis``, named n0, n1, …"""
    return [hub_factory(["--broker", "redis", "--redis-url", redis.url, "--node-id", f"n{i}",
                         "--namespaces", NAMESPACES, *(extra or [])]) for i in range(count)]


async def publish_ws(ws, topic: str, data, id_) -> dict:
    await send(ws, {"type": "publish", "topic": topic, "event": "e", "data": data, "id": id_})
    return await recv_type(ws, "ack")


async def messages(ws, topics: str | tuple[str, ...], count: int, timeout: float = 10.0) -> list[dict]:
    """The next ``count`` messages on ``ws``, which must all be of ``topics`` (acks are skipped)."""
    topics = (topics,) if isinstance(topics, str) else topics
    got = []
    while len(got) < count:
        frame = await recv_frame(ws, timeout)
        if frame["type"] == "ack":
            continue
        assert frame["type"] == "message" and frame["topic"] in topics, frame
        got.append(frame)
    return got


def ready(hub) -> int:
    return httpx.get(f"{hub.url}/ready", timeout=5).status_code


async def test_a_publish_on_one_node_reaches_every_node_in_order_exactly_once(hub_factory, redis_server):
    a, b, c = start_cluster(hub_factory, redis_server)
    await wait_for(lambda: len(httpx.get(f"{b.url}/api/nodes").json()["nodes"]) == 3, what="three nodes registered")
    nodes = httpx.get(f"{b.url}/api/nodes").json()["nodes"]
    assert [n["id"] for n in nodes] == ["n0", "n1", "n2"] and [n["local"] for n in nodes] == [False, True, False]
    assert httpx.get(f"{a.url}/ready").json()["checks"]["redis"]["status"] == "ok"
    subscribers = [await ws_connect(h.ws_url) for h in (a, b, c, c)]
    for ws in subscribers:
        await subscribe(ws, "chat:room")
        await subscribe(ws, "live.feed")  # no history: published without the stream
    publisher = await ws_connect(a.ws_url)
    other = await ws_connect(b.ws_url)
    count = 100
    for i in range(count):
        ack = await publish_ws(publisher if i % 2 == 0 else other, "chat:room", {"i": i}, i)
        assert ack["offset"] == i + 1, ack
        await publish_ws(publisher, "live.feed", {"i": i}, f"f{i}")
    for ws in subscribers:
        received = await messages(ws, ("chat:room", "live.feed"), 2 * count)
        room = [m for m in received if m["topic"] == "chat:room"]
        assert [m["data"]["i"] for m in room] == list(range(count))
        assert [m["offset"] for m in room] == list(range(1, count + 1))
        assert len({m["epoch"] for m in room}) == 1
        feed = [m for m in received if m["topic"] == "live.feed"]
        assert [m["data"]["i"] for m in feed] == list(range(count))
    for ws in subscribers:
        # Exactly once: nothing more arrives after the last message.
        with pytest.raises(asyncio.TimeoutError):
            extra = await asyncio.wait_for(ws.recv(), 0.5)
            pytest.fail(f"a frame after the last message: {extra}")
    for ws in [*subscribers, publisher, other]:
        await ws.close()


async def test_a_plain_subscribe_answers_once_redis_has_the_subscription(hub_factory, redis_server):
    a, b = start_cluster(hub_factory, redis_server, count=2)
    ws = await ws_connect(b.ws_url)
    for n in range(20):
        # No wait between subscribing on B and publishing on A: `subscribed` promises delivery.
        await subscribe(ws, f"live.t{n}")
        await http_publish(a, f"live.t{n}", n)
        assert (await recv_type(ws, "message"))["data"] == n
    await ws.close()


async def test_a_client_recovers_on_another_node_with_since(hub_factory, redis_server):
    a, b, c = start_cluster(hub_factory, redis_server)
    ws = await ws_connect(a.ws_url)
    await subscribe(ws, "chat:r")
    for i in range(5):
        await http_publish(b, "chat:r", i)
    seen = await messages(ws, "chat:r", 5)
    last = seen[-1]
    await ws.close()
    for i in range(5, 40):
        await http_publish(b, "chat:r", i)
    ws = await ws_connect(c.ws_url)
    await send(ws, {"type": "subscribe", "topic": "chat:r", "since": {"offset": last["offset"], "epoch": last["epoch"]}})
    reply = await recv_frame(ws)
    assert reply["type"] == "subscribed" and reply["recovered"] is True and reply["offset"] == 40, reply
    # Then the missed messages, in order, none twice.
    replayed = await messages(ws, "chat:r", 35)
    assert [m["data"] for m in replayed] == list(range(5, 40))
    await http_publish(a, "chat:r", 40)
    assert (await recv_type(ws, "message"))["data"] == 40
    # A wrong epoch is never recovered silently.
    await send(ws, {"type": "subscribe", "topic": "chat:r", "since": {"offset": 3, "epoch": "nope"}, "id": "x"})
    assert (await recv_type(ws, "subscribed"))["recovered"] is False
    await ws.close()


async def test_a_subscriber_of_an_empty_topic_recovers_its_first_messages_on_another_node(hub_factory, redis_server):
    a, b = start_cluster(hub_factory, redis_server, count=2)
    ws = await ws_connect(a.ws_url)
    sub = await subscribe(ws, "chat:empty")
    assert sub["offset"] == 0 and sub["epoch"], sub
    await ws.close()
    for i in range(3):
        await http_publish(b, "chat:empty", i)
    ws = await ws_connect(b.ws_url)
    await send(ws, {"type": "subscribe", "topic": "chat:empty", "since": {"offset": 0, "epoch": sub["epoch"]}})
    reply = await recv_type(ws, "subscribed")
    assert reply["recovered"] is True and reply["offset"] == 3 and reply["epoch"] == sub["epoch"], reply
    assert [m["data"] for m in await messages(ws, "chat:empty", 3)] == [0, 1, 2]
    await ws.close()


def node_subscriber(topic: str, urls: list[str]):
    """chorus.js (js/cluster-subscriber.mjs) subscribed through ``urls``; returns the process
    and the list its output lines are parsed into."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: scripts/test installs it")
    env = {**os.environ, "NODE_PATH": "/usr/share/nodejs"}
    proc = subprocess.Popen([node, str(SUBSCRIBER), topic, *urls], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    events: list[dict] = []

    def pump():
        for line in proc.stdout:
            events.append(json.loads(line))
    threading.Thread(target=pump, daemon=True).start()
    return proc, events


async def test_kill_9_of_a_node_under_load_loses_no_acknowledged_message(hub_factory, redis_server):
    hubs = start_cluster(hub_factory, redis_server)
    a, b, c = hubs
    urls = [h.ws_url for h in hubs]
    # Each client starts on its own node and rotates through the others.
    clients = [node_subscriber("chat:load", urls[i:] + urls[:i]) for i in range(3) for _ in range(2)]
    try:
        await wait_for(lambda: all(any(e["kind"] == "subscribed" for e in events) for _, events in clients),
                       timeout=15, what="every chorus.js client subscribed")
        acked: list[int] = []
        stop = asyncio.Event()

        async def publisher(hub, label):
            async with hub.http(timeout=5) as http:
                n = 0
                while not stop.is_set():
                    try:
                        r = await http.post("/api/publish", json={"topic": "chat:load", "data": f"{label}{n}"})
                    except httpx.HTTPError:
                        if hub is a:
                            return  # its node is gone: the unanswered publish is not acknowledged
                        raise
                    if r.status_code == 200:
                        acked.append(r.json()["offset"])
                    n += 1

        tasks = [asyncio.create_task(publisher(h, label)) for h, label in ((a, "a"), (b, "b"), (c, "c"))]
        await asyncio.sleep(1.0)
        a.kill()  # SIGKILL
        await asyncio.sleep(2.0)
        stop.set()
        await asyncio.gather(*tasks)
        top = max(acked)
        assert len(acked) > 50, f"too little load: {len(acked)} acknowledged publishes"

        def caught_up():
            return all(any(e["kind"] == "message" and e["offset"] >= top for e in events) for _, events in clients)
        await wait_for(caught_up, timeout=20, what=f"every client reaching offset {top}")
        for proc, events in clients:
            offsets = [e["offset"] for e in events if e["kind"] == "message"]
            # Every message, in order, none twice (acknowledged ones included): the clients
            # subscribed to the empty topic and still recover its first messages.
            assert offsets == list(range(1, len(offsets) + 1)), offsets[:20]
            assert set(acked) <= set(offsets)
            assert not [e for e in events if e["kind"] in ("recovery_failed", "error")], events
        moved = [events for _, events in clients[:2]]
        for events in moved:
            # The clients of the killed node came back on another one, and recovered.
            back = [e for e in events if e["kind"] == "subscribed"][-1]
            assert back["url"] != a.ws_url and back["recovered"] is True, back
    finally:
        for proc, _ in clients:
            proc.send_signal(signal.SIGTERM)
            proc.wait(5)


@pytest.mark.parametrize("persistence", ["none", "aof"])
async def test_a_redis_restart_is_survived(hub_factory, persistence):
    args = ["--appendonly", "yes", "--appendfsync", "always"] if persistence == "aof" else []
    redis = RedisServer(args).start()
    try:
        a, b, c = start_cluster(hub_factory, redis)
        ws = await ws_connect(b.ws_url)
        await subscribe(ws, "chat:x")
        await subscribe(ws, "live.x")
        for i in range(5):
            await http_publish(a, "chat:x", i)
        before = await messages(ws, "chat:x", 5)
        redis.kill()
        await wait_for(lambda: all(ready(h) == 503 for h in (a, b, c)), timeout=10, what="/ready 503 on every node")
        body = httpx.get(f"{a.url}/ready").json()
        assert body["error"]["code"] == "unavailable" and "redis" in body["error"]["message"].lower(), body
        async with a.http() as http:
            r = await http.post("/api/publish", json={"topic": "chat:x", "data": "lost?"})
            assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable", r.text
            r = await http.post("/api/publish", json={"topic": "live.x", "data": "lost?"})
            assert r.status_code == 503, r.text
        redis.start()
        await wait_for(lambda: all(ready(h) == 200 for h in (a, b, c)), timeout=20, what="/ready 200 again")
        # The node's clients are told to resynchronise, and come back with `since`.
        frame = await recv_type(ws, "disconnect", timeout=10)
        assert frame["reconnect"] is True and frame["code"] == 1001 and "cluster connection" in frame["reason"], frame
        await ws.close()
        last = before[-1]
        ws = await ws_connect(c.ws_url)
        await send(ws, {"type": "subscribe", "topic": "chat:x", "since": {"offset": last["offset"], "epoch": last["epoch"]}})
        reply = await recv_type(ws, "subscribed")
        await subscribe(ws, "live.x")
        if persistence == "aof":
            assert reply["recovered"] is True and reply["epoch"] == last["epoch"] and reply["offset"] == 5, reply
        else:
            # The stream was lost with Redis: the client is told, never given a silent gap.
            assert reply["recovered"] is False, reply
        await http_publish(a, "chat:x", "after")
        await http_publish(b, "live.x", "after")
        got = {(m["topic"], m["data"]) for m in [await recv_type(ws, "message"), await recv_type(ws, "message")]}
        assert got == {("chat:x", "after"), ("live.x", "after")}
        for h in (a, b, c):
            assert h.running, h.stderr[-2000:]
        await ws.close()
    finally:
        redis.close()


async def test_postgres_outage_only_affects_readiness(hub_factory, redis_server, postgres_server):
    hubs = start_cluster(hub_factory, redis_server, count=2, extra=["--postgres-url", postgres_server.url])
    a, b = hubs
    await wait_for(lambda: all(ready(h) == 200 for h in hubs), timeout=20, what="ready with PostgreSQL")
    postgres_server.stop()
    await wait_for(lambda: all(ready(h) == 503 for h in hubs), timeout=20, what="/ready 503 without PostgreSQL")
    assert "postgres" in httpx.get(f"{a.url}/ready").json()["error"]["message"].lower()
    # Publishing and delivery across nodes do not need PostgreSQL.
    ws = await ws_connect(b.ws_url)
    await subscribe(ws, "chat:pg")
    await http_publish(a, "chat:pg", "still")
    assert (await recv_type(ws, "message"))["data"] == "still"
    postgres_server.start()
    await wait_for(lambda: all(ready(h) == 200 for h in hubs), timeout=30, what="/ready 200 after PostgreSQL is back")
    await ws.close()


def documented_nginx_config() -> str:
    """The nginx configuration docs/deployment.md shows for a cluster."""
    text = (Path(__file__).parents[2] / "docs" / "deployment.md").read_text()
    section = text.split("## A cluster of nodes (Redis)", 1)[1]
    return section.split("```nginx\n", 1)[1].split("```", 1)[0]


async def test_the_documented_nginx_config_balances_and_moves_clients_off_a_dead_node(hub_factory, redis_server, tmp_path):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if nginx is None:
        pytest.fail("nginx is not installed: scripts/test installs it")
    hubs = start_cluster(hub_factory, redis_server)
    port = free_port()
    config = documented_nginx_config().replace("listen 8080;", f"listen 127.0.0.1:{port};")
    for documented, hub in zip((8081, 8082, 8083), hubs):
        config = config.replace(f"127.0.0.1:{documented} ", f"127.0.0.1:{hub.port} ")
    (tmp_path / "nginx.conf").write_text(
        f"error_log {tmp_path}/error.log;\npid {tmp_path}/nginx.pid;\nevents {{}}\n"
        f"http {{\naccess_log off;\nclient_body_temp_path {tmp_path}/body;\nproxy_temp_path {tmp_path}/proxy;\n{config}\n}}\n")
    proc = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off; master_process off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        front = f"http://127.0.0.1:{port}"
        await wait_for(lambda: httpx.get(f"{front}/health", timeout=2).status_code == 200 if proc.poll() is None else pytest.fail(
            f"nginx exited: {proc.stderr.read().decode()}"), timeout=10, what="nginx answering")
        await wait_for(lambda: len(httpx.get(f"{hubs[0].url}/api/nodes").json()["nodes"]) == 3, what="three nodes registered")
        # least_conn spreads three clients over the three nodes.
        clients = [await ws_connect(f"ws://127.0.0.1:{port}/ws") for _ in range(3)]
        for ws in clients:
            await subscribe(ws, "chat:lb")
        counts = [httpx.get(f"{h.url}/api/nodes").json()["nodes"][i]["connections"] for i, h in enumerate(hubs)]
        assert counts == [1, 1, 1], counts
        async with httpx.AsyncClient(base_url=front, timeout=5) as http:
            r = await http.post("/api/publish", json={"topic": "chat:lb", "data": 1})
            assert r.status_code == 200, r.text
            last = r.json()
        for ws in clients:
            assert (await recv_type(ws, "message"))["data"] == 1
        # SSE through the proxy is not buffered: a message arrives at once.
        async with httpx.AsyncClient(timeout=10) as http, http.stream("GET", f"{front}/sse?topic=live.lb") as stream:
            lines = stream.aiter_lines()
            await wait_for(lambda: sum(httpx.get(f"{h.url}/api/nodes").json()["nodes"][i]["connections"] for i, h in enumerate(hubs)) == 4,
                           what="the SSE stream open")
            await http_publish(hubs[1], "live.lb", "sse")
            async def data_line():
                async for line in lines:
                    if line.startswith("data:") and "sse" in line:
                        return line
            assert await asyncio.wait_for(data_line(), 5)
        # Kill the node of the first client: it reconnects through nginx to another node and recovers.
        for ws in clients[1:]:
            await ws.close()
        # Each node counts its own connections at once (the others' heartbeats lag).
        await wait_for(lambda: sum(httpx.get(f"{h.url}/api/nodes").json()["nodes"][i]["connections"] for i, h in enumerate(hubs)) == 1,
                       what="one connection left")
        busy = next(i for i, h in enumerate(hubs) if httpx.get(f"{h.url}/api/nodes").json()["nodes"][i]["connections"] == 1)
        hubs[busy].kill()
        survivor = hubs[(busy + 1) % 3]
        for i in range(2, 6):
            await http_publish(survivor, "chat:lb", i)
        ws = await ws_connect(f"ws://127.0.0.1:{port}/ws")
        await send(ws, {"type": "subscribe", "topic": "chat:lb", "since": {"offset": last["offset"], "epoch": last["epoch"]}})
        reply = await recv_type(ws, "subscribed")
        assert reply["recovered"] is True, reply
        assert [m["data"] for m in await messages(ws, "chat:lb", 4)] == [2, 3, 4, 5]
        await ws.close()
        await clients[0].close()
    finally:
        proc.terminate()
        proc.wait(10)

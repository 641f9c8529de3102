"""Web Push in a cluster (docs/pwa.md, "Web Push"; docs/deployment.md): two hubs on one Redis and
one PostgreSQL. A subscription registered through node A is stored in PostgreSQL and used by a
send on node B; "has no open connection" is decided cluster-wide, so a user connected to node A
gets no push for a ``push: true`` message published on B, while a user connected nowhere does.
Deliveries go to the push-service stand-in (pushservice.py), which verifies and decrypts them."""

from __future__ import annotations

import json
import socket

import httpx

from conftest import Hub, bearer, hs256, wait_for, ws_connect
from pushservice import PushServiceStandIn
from test_push import ADMIN, SECRET, metric, push_env
from test_sync_cluster import is_ready

NAMESPACES = json.dumps({"alerts": {"push": True}, "news": {"publish": "server"}})


def redis_numsub(redis, channel: str) -> int:
    """How many connections are subscribed to `channel` (RESP over a socket: no client library)."""
    with socket.create_connection(("127.0.0.1", redis.port), timeout=5) as s:
        command = ["PUBSUB", "NUMSUB", channel]
        s.sendall(f"*{len(command)}\r\n".encode() + b"".join(f"${len(p)}\r\n{p}\r\n".encode() for p in command))
        reply = b""   # *2 $<n> <channel> :<count>
        while reply.count(b"\r\n") < 4:
            reply += s.recv(256)
    return int(reply.split(b"\r\n")[3].lstrip(b":"))


async def test_subscriptions_are_shared_and_online_means_connected_to_any_node(hub_factory, redis_server, postgres_server):
    postgres_server.create_database("push")
    env = push_env()   # one VAPID key pair: the cluster's
    args = ["--namespaces", NAMESPACES, "--broker", "redis", "--redis-url", redis_server.url,
            "--postgres-url", postgres_server.database_url("push")]
    a = hub_factory([*args, "--node-id", "a"], env=env)
    b = hub_factory([*args, "--node-id", "b"], env=env)
    for node in (a, b):
        await wait_for(lambda node=node: is_ready(node), timeout=30, what="both nodes ready")

    with PushServiceStandIn() as stand_in:
        # Subscribed through node A; B lists and uses them (PostgreSQL, migration 5).
        for user in ("alice", "bob"):
            made = httpx.post(a.url + "/api/push/subscriptions", headers=bearer(hs256(SECRET, user=user)),
                              json=stand_in.subscription(user, topics=["alerts:news", "news:today"]))
            assert made.status_code == 201, made.text
        listed = httpx.get(b.url + "/api/push/subscriptions", headers=bearer(hs256(SECRET, user="alice"))).json()["subscriptions"]
        assert [s["endpoint"] for s in listed] == [stand_in.endpoint("alice")]
        assert int(postgres_server.psql("SELECT count(*) FROM chorus_push_subscriptions", database="push")) == 2
        sent = httpx.post(b.url + "/api/push/send", headers=ADMIN, json={"user": "alice", "title": "via B"})
        assert sent.json() == {"queued": 1}, sent.text
        assert stand_in.wait_for(1, "alice")[0].payload == {"title": "via B"}

        # Bob connects to node A only; node B learns it from Redis (A subscribed to his channel).
        ws = await ws_connect(a.ws(token=hs256(SECRET, user="bob")))
        try:
            await wait_for(lambda: redis_numsub(redis_server, "chorus:u:bob") == 1, timeout=10, what="node A following bob")
            # A send to a topic on B skips him: offline only, cluster-wide.
            offline = httpx.post(b.url + "/api/push/send", headers=ADMIN, json={"topic": "news:today", "title": "Today"})
            assert offline.json() == {"queued": 1}, "bob is connected to node A: only alice"
            assert stand_in.wait_for(2, "alice")[1].payload == {"title": "Today"}

            # A message of a push namespace published on B: alice (connected nowhere) gets it, bob not.
            published = httpx.post(b.url + "/api/publish", headers=ADMIN,
                                   json={"topic": "alerts:news", "event": "alert", "data": {"title": "Storm", "text": "90 km/h"}})
            assert published.status_code == 200, published.text
            storm = stand_in.wait_for(3, "alice")[2]
            assert storm.payload["title"] == "Storm" and storm.payload["message_id"] == published.json()["message_id"]
            # A marker sent to bob after the storm's fan-out was queued: it is his only push.
            marker = httpx.post(b.url + "/api/push/send", headers=ADMIN, json={"user": "bob", "title": "marker"})
            assert marker.json() == {"queued": 1}
            assert [d.payload for d in stand_in.wait_for(1, "bob")] == [{"title": "marker"}]
            await wait_for(lambda: metric(b, "delivered") == 4, what="node B counting its four deliveries")
            assert metric(a, "delivered") == 0
        finally:
            await ws.close()

        # Bob gone from every node: the next message of the namespace reaches him too.
        await wait_for(lambda: redis_numsub(redis_server, "chorus:u:bob") == 0, timeout=10, what="node A letting bob go")
        httpx.post(b.url + "/api/publish", headers=ADMIN, json={"topic": "alerts:news", "data": "all clear"}).raise_for_status()
        assert stand_in.wait_for(2, "bob")[1].payload["body"] == "all clear"
        assert stand_in.wait_for(4, "alice")[3].payload["body"] == "all clear"
        assert not stand_in.failures, stand_in.failures

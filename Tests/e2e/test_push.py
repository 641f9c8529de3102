"""Web Push from the hub (docs/pwa.md, "Web Push"), end to end against a push-service stand-in
(pushservice.py) that verifies the VAPID token and decrypts with independent implementations:
`chorus push keys`, the subscription API, sending, retries, removal on 410, the namespace option,
and what a hub without keys answers."""

from __future__ import annotations

import asyncio
import json
import re
import time

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import Hub, bearer, hs256, run_cli, ws_connect
from pushservice import PushServiceStandIn, b64u, unb64u

SECRET = "push-test-secret-0123456789abcdef0123"
API_KEY = "push-test-api-key"
ADMIN = bearer(API_KEY)


def keys() -> dict[str, str]:
    out = run_cli("push", "keys")
    assert out.returncode == 0, out.stderr
    return dict(line.split("=", 1) for line in out.stdout.split())


def push_env(extra: dict[str, str] | None = None, loopback: bool = True) -> dict[str, str]:
    pair = keys()
    env = {**pair, "CHORUS_PUSH_VAPID_SUBJECT": "mailto:ops@example.com",
           "CHORUS_JWT_SECRET": SECRET, "CHORUS_API_KEY": API_KEY}
    if loopback:
        env["CHORUS_PUSH_ALLOW_LOOPBACK_HTTP"] = "true"
    return {**env, **(extra or {})}


def metric(hub: Hub, outcome: str) -> int:
    text = httpx.get(hub.url + "/metrics", headers=ADMIN).text
    match = re.search(rf'chorus_push_deliveries_total{{outcome="{outcome}"}} (\d+)', text)
    return int(match[1]) if match else 0


@pytest.fixture
def stand_in():
    with PushServiceStandIn() as service:
        yield service


def test_push_keys_prints_a_matching_vapid_pair():
    pair = keys()
    public = unb64u(pair["CHORUS_PUSH_VAPID_PUBLIC_KEY"])
    private = unb64u(pair["CHORUS_PUSH_VAPID_PRIVATE_KEY"])
    assert len(public) == 65 and public[0] == 4 and len(private) == 32
    derived = ec.derive_private_key(int.from_bytes(private, "big"), ec.SECP256R1()).public_key()
    assert derived.public_numbers() == ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public).public_numbers()
    assert keys() != pair


def test_without_keys_the_push_api_answers_409(hub_factory):
    hub = hub_factory(env={"CHORUS_API_KEY": API_KEY, "CHORUS_JWT_SECRET": SECRET})
    for method, path in [("GET", "/api/push/key"), ("GET", "/api/push/subscriptions?user=a"),
                         ("POST", "/api/push/send"), ("DELETE", "/api/push/subscriptions/x")]:
        response = httpx.request(method, hub.url + path, headers=ADMIN, json={"user": "a"} if method == "POST" else None)
        assert response.status_code == 409, (path, response.text)
        assert response.json()["error"]["code"] == "unavailable"
        assert "push_vapid_private_key" in response.json()["error"]["message"]


@pytest.mark.parametrize("env,message", [
    ({"CHORUS_PUSH_VAPID_PRIVATE_KEY": "short"}, "push_vapid_private_key must be a P-256 private key"),
    ({"CHORUS_PUSH_VAPID_SUBJECT": ""}, "push_vapid_subject is required"),
    ({"CHORUS_PUSH_VAPID_SUBJECT": "ops@example.com"}, "mailto: or https:"),
    ({"CHORUS_PUSH_VAPID_PUBLIC_KEY": "BBN_bgWXVjDR4Lx5ydoP0FqjOIRUygdU2jsCl9DkgIusAGqJG4SrVAtus8OA9vHPQ4ACJGcXu4U1mQONT6LffiY"},
     "does not belong"),
])
def test_bad_push_configuration_stops_the_start(env, message):
    hub = Hub(env=push_env(env))
    with pytest.raises(Exception):
        hub.start()
    assert message in hub.stderr, hub.stderr[-2000:]
    hub.stop()


def test_a_push_namespace_without_keys_stops_the_start():
    hub = Hub(env={"CHORUS_NAMESPACES": '{"alerts": {"push": true}}'})
    with pytest.raises(Exception):
        hub.start()
    assert "namespace 'alerts' has push: true" in hub.stderr, hub.stderr[-2000:]
    hub.stop()


def test_subscribe_send_and_the_push_service_decrypts_it(hub_factory, stand_in):
    hub = hub_factory(env=push_env())
    alice = bearer(hs256(SECRET, user="alice"))
    assert httpx.get(hub.url + "/api/push/key").status_code == 401
    assert httpx.get(hub.url + "/api/push/key", headers=alice).json()["public_key"] == hub.env["CHORUS_PUSH_VAPID_PUBLIC_KEY"]

    created = httpx.post(hub.url + "/api/push/subscriptions", headers=alice, json=stand_in.subscription("a1"))
    assert created.status_code == 201, created.text
    subscription = created.json()
    assert subscription["user"] == "alice" and subscription["endpoint"] == stand_in.endpoint("a1")
    listed = httpx.get(hub.url + "/api/push/subscriptions", headers=alice).json()["subscriptions"]
    assert [s["id"] for s in listed] == [subscription["id"]]

    sent = httpx.post(hub.url + "/api/push/send", headers=ADMIN, json={
        "user": "alice", "title": "Hello", "body": "A message for you", "url": "/demo#lobby",
        "data": {"room": "lobby", "n": [1, 2]}, "ttl": 60, "urgency": "high", "push_topic": "lobby-news"})
    assert sent.status_code == 202 and sent.json() == {"queued": 1}, sent.text
    [delivery] = stand_in.wait_for(1, "a1")
    assert not stand_in.failures, stand_in.failures
    assert delivery.payload == {"title": "Hello", "body": "A message for you", "url": "/demo#lobby",
                                "data": {"room": "lobby", "n": [1, 2]}}
    assert delivery.headers["ttl"] == "60" and delivery.headers["urgency"] == "high"
    assert delivery.headers["topic"] == "lobby-news"
    assert delivery.claims["aud"] == stand_in.origin and delivery.claims["sub"] == "mailto:ops@example.com"
    assert delivery.claims["exp"] > time.time()
    assert metric(hub, "delivered") == 1

    # A client token may send to a topic it may publish to; not to a user.
    assert httpx.post(hub.url + "/api/push/send", headers=alice, json={"user": "alice", "title": "x"}).status_code == 403


def test_429_and_5xx_are_retried_after_retry_after_then_delivered(hub_factory, stand_in):
    hub = hub_factory(env=push_env())
    alice = bearer(hs256(SECRET, user="alice"))
    assert httpx.post(hub.url + "/api/push/subscriptions", headers=alice, json=stand_in.subscription("r1")).status_code == 201
    stand_in.script("r1", (429, {"Retry-After": "1"}), 503)
    assert httpx.post(hub.url + "/api/push/send", headers=ADMIN, json={"user": "alice", "title": "retry"}).status_code == 202
    attempts = stand_in.wait_for(3, "r1")
    assert [a.status for a in attempts] == [429, 503, 201]
    assert attempts[1].at - attempts[0].at >= 0.9, "Retry-After: 1 was not honoured"
    assert all(a.payload == {"title": "retry"} for a in attempts)
    assert metric(hub, "retried") == 2 and metric(hub, "delivered") == 1
    # The subscription stays.
    assert len(httpx.get(hub.url + "/api/push/subscriptions", headers=alice).json()["subscriptions"]) == 1


def test_410_removes_the_subscription(hub_factory, stand_in):
    hub = hub_factory(env=push_env())
    alice = bearer(hs256(SECRET, user="alice"))
    for name in ("gone", "kept"):
        assert httpx.post(hub.url + "/api/push/subscriptions", headers=alice, json=stand_in.subscription(name)).status_code == 201
    stand_in.script("gone", 410)
    assert httpx.post(hub.url + "/api/push/send", headers=ADMIN, json={"user": "alice", "body": "x"}).json() == {"queued": 2}
    stand_in.wait_for(1, "gone")
    stand_in.wait_for(1, "kept")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and metric(hub, "removed") < 1:
        time.sleep(0.05)
    assert metric(hub, "removed") == 1
    left = httpx.get(hub.url + "/api/push/subscriptions", headers=alice).json()["subscriptions"]
    assert [s["endpoint"] for s in left] == [stand_in.endpoint("kept")]


def test_subscriptions_are_validated_and_owned(hub_factory, stand_in):
    hub = hub_factory(env=push_env())
    alice = bearer(hs256(SECRET, user="alice"))
    bob = bearer(hs256(SECRET, user="bob"))
    good = stand_in.subscription("v1")
    url = hub.url + "/api/push/subscriptions"

    def refused(body, headers=alice, status=400):
        response = httpx.post(url, headers=headers, json=body)
        assert response.status_code == status, (body, response.text)
        return response.json()["error"]["message"]

    assert "https://" in refused({**good, "endpoint": "http://push.example.com/x"})
    assert "host name" in refused({**good, "endpoint": "https://10.0.0.1/x"})
    assert "p256dh" in refused({**good, "keys": {**good["keys"], "p256dh": b64u(b"\x04" + b"\x01" * 64)}})
    assert "auth" in refused({**good, "keys": {**good["keys"], "auth": b64u(b"short")}})
    assert "keys" in refused({"endpoint": good["endpoint"]})
    assert "own user" in refused({**good, "user": "bob"}, status=403)
    assert "name the user" in refused(good, headers=ADMIN)
    assert "topics" in refused({**good, "topics": "alerts"})

    created = httpx.post(url, headers=alice, json=good).json()
    # Bob cannot see or remove Alice's subscription; the API key can.
    assert httpx.get(url, headers=bob).json() == {"subscriptions": []}
    assert httpx.delete(f"{url}/{created['id']}", headers=bob).status_code == 404
    assert [s["id"] for s in httpx.get(url + "?user=alice", headers=ADMIN).json()["subscriptions"]] == [created["id"]]
    assert httpx.delete(f"{url}/{created['id']}", headers=alice).status_code == 204
    assert httpx.get(url, headers=alice).json() == {"subscriptions": []}


def test_https_only_without_the_loopback_option(hub_factory, stand_in):
    hub = hub_factory(env=push_env(loopback=False))
    alice = bearer(hs256(SECRET, user="alice"))
    response = httpx.post(hub.url + "/api/push/subscriptions", headers=alice, json=stand_in.subscription("h1"))
    assert response.status_code == 400 and "push_allow_loopback_http" in response.text


def test_subscriptions_survive_a_restart(tmp_path, stand_in):
    env = push_env({"CHORUS_STORE": "sqlite", "CHORUS_DATA_DIR": str(tmp_path / "data")})
    alice = bearer(hs256(SECRET, user="alice"))
    hub = Hub(env=env, cwd=tmp_path).start()
    try:
        created = httpx.post(hub.url + "/api/push/subscriptions", headers=alice,
                             json=stand_in.subscription("p1", topics=["alerts:news"])).json()
    finally:
        hub.stop()
    assert (tmp_path / "data" / "push.sqlite").exists()
    hub = Hub(env=env, cwd=tmp_path).start()
    try:
        listed = httpx.get(hub.url + "/api/push/subscriptions", headers=alice).json()["subscriptions"]
        assert listed == [created] and created["topics"] == ["alerts:news"]
    finally:
        hub.stop()


async def test_a_push_namespace_pushes_to_opted_in_users_without_a_connection(hub_factory, stand_in):
    hub = hub_factory(env=push_env({"CHORUS_NAMESPACES": json.dumps({"alerts": {"push": True}, "chat": {}})}))
    alice = bearer(hs256(SECRET, user="alice"))
    carol = bearer(hs256(SECRET, user="carol"))
    url = hub.url + "/api/push/subscriptions"
    assert httpx.post(url, headers=alice, json=stand_in.subscription("alice", topics=["alerts:news", "chat:room"])).status_code == 201
    assert httpx.post(url, headers=carol, json=stand_in.subscription("carol", topics=["alerts:other"])).status_code == 201

    def publish(topic, data):
        response = httpx.post(hub.url + "/api/publish", headers=ADMIN, json={"topic": topic, "event": "alert", "data": data})
        assert response.status_code == 200, response.text
        return response.json()["message_id"]

    first = publish("alerts:news", {"title": "Storm", "text": "Wind at 90 km/h", "url": "/demo"})
    [delivery] = stand_in.wait_for(1, "alice")
    assert delivery.payload == {"title": "Storm", "body": "Wind at 90 km/h", "url": "/demo", "tag": "alerts:news",
                                "topic": "alerts:news", "event": "alert", "message_id": first,
                                "data": {"title": "Storm", "text": "Wind at 90 km/h", "url": "/demo"}}
    # A namespace without push, and a topic Carol did not opt in: no push.
    publish("chat:room", "hello")
    # Alice online: nothing pushed to her.
    ws = await ws_connect(hub.ws(token=hs256(SECRET, user="alice")))
    try:
        await asyncio.sleep(0.3)
        publish("alerts:news", "while online")
        await asyncio.sleep(1.5)
        assert len(stand_in.deliveries("alice")) == 1
    finally:
        await ws.close()
    await asyncio.sleep(0.3)
    assert stand_in.deliveries("carol") == []
    # Offline again: pushed (a string's text is the body).
    publish("alerts:news", "back offline")
    later = stand_in.wait_for(2, "alice")[1]
    assert later.payload["body"] == "back offline" and later.payload["title"] == "alerts:news"
    assert not stand_in.failures, stand_in.failures


async def test_send_to_a_topic_reaches_opted_in_users_offline_only_by_default(hub_factory, stand_in):
    hub = hub_factory(env=push_env({"CHORUS_NAMESPACES": json.dumps({"news": {"publish": "server"}})}))
    url = hub.url + "/api/push/subscriptions"
    for user in ("alice", "bob"):
        headers = bearer(hs256(SECRET, user=user))
        assert httpx.post(url, headers=headers, json=stand_in.subscription(user, topics=["news:today"])).status_code == 201
    ws = await ws_connect(hub.ws(token=hs256(SECRET, user="bob")))
    try:
        await asyncio.sleep(0.3)
        sent = httpx.post(hub.url + "/api/push/send", headers=ADMIN, json={"topic": "news:today", "title": "Today"})
        assert sent.json() == {"queued": 1}, "bob is connected: only alice"
        assert stand_in.wait_for(1, "alice")[0].payload == {"title": "Today"}
        everyone = httpx.post(hub.url + "/api/push/send", headers=ADMIN, json={"topic": "news:today", "title": "All", "offline_only": False})
        assert everyone.json() == {"queued": 2}
        stand_in.wait_for(1, "bob")
    finally:
        await ws.close()
    # A client token needs the right to publish to the topic (here: server only).
    refused = httpx.post(hub.url + "/api/push/send", headers=bearer(hs256(SECRET, user="alice")), json={"topic": "news:today", "title": "x"})
    assert refused.status_code == 403
    for body, message in [({"title": "x"}, "either 'user' or 'topic'"), ({"user": "a", "topic": "news:x"}, "either"),
                          ({"user": "a", "ttl": -1}, "ttl"), ({"user": "a", "urgency": "now"}, "urgency"),
                          ({"user": "a", "push_topic": "has space"}, "push_topic")]:
        response = httpx.post(hub.url + "/api/push/send", headers=ADMIN, json=body)
        assert response.status_code == 400 and message in response.json()["error"]["message"], (body, response.text)
    too_big = httpx.post(hub.url + "/api/push/send", headers=ADMIN, json={"user": "alice", "body": "x" * 4000})
    assert too_big.status_code == 413

"""Per-topic authorization: the token's `subscribe`/`publish` claim lists, namespace rules
(`publish`, `anonymous_subscribe`, `user_scoped`), pattern subscriptions that only deliver
what the client may read, over WebSocket, SSE and the HTTP API."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest

from conftest import (SECRET, bearer, hs256, http_publish, recv_frame, roundtrip, send,
                      sse_connect, ws_connect, ws_connect_as)

API_KEY = "authorization-test-api-key"
NAMESPACES = {
    "news": {"publish": "server"},
    "chat": {"publish": "authenticated"},
    "private": {"anonymous_subscribe": False},
    "user": {"user_scoped": True},
    "inbox": {"user_scoped": True},
}


def unique() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def rules_hub():
    from conftest import Hub
    h = Hub(["--jwt-secret", SECRET, "--api-key", API_KEY, "--allow-anonymous", "true",
             "--namespaces", json.dumps(NAMESPACES)]).start()
    yield h
    h.stop()


async def expect_error(ws, frame: dict, code: str) -> dict:
    reply = await roundtrip(ws, {**frame, "id": "x"})
    assert reply["type"] == "error" and reply["code"] == code and reply["id"] == "x", reply
    return reply


async def expect_ok(ws, frame: dict, reply_type: str) -> dict:
    reply = await roundtrip(ws, frame)
    assert reply["type"] == reply_type, (frame, reply)
    return reply


async def expect_silence(ws, seconds: float = 0.5) -> None:
    with pytest.raises(asyncio.TimeoutError):
        frame = await asyncio.wait_for(ws.recv(), seconds)
        pytest.fail(f"unexpected frame: {frame}")


async def admin_publish(hub, topic: str, data) -> None:
    async with hub.http() as client:
        r = await client.post("/api/publish", json={"topic": topic, "data": data}, headers=bearer(API_KEY))
        assert r.status_code == 200, r.text


# -- token claims -------------------------------------------------------------------------------

async def test_subscribe_claim_limits_subscriptions(rules_hub):
    token = hs256(SECRET, "ann", subscribe=["game.*", "lobby"], publish=["game.moves"])
    ws = await ws_connect_as(rules_hub.ws(), token, "ann")
    await expect_ok(ws, {"type": "subscribe", "topic": "game.1"}, "subscribed")
    await expect_ok(ws, {"type": "subscribe", "topic": "lobby"}, "subscribed")
    await expect_ok(ws, {"type": "subscribe", "topic": "game.*"}, "subscribed")
    reply = await expect_error(ws, {"type": "subscribe", "topic": "admin.log"}, "forbidden")
    assert "admin.log" in reply["message"]
    # Disjoint from every permitted pattern: refused outright.
    await expect_error(ws, {"type": "subscribe", "topic": "other.*"}, "forbidden")
    await ws.close()


async def test_publish_claim_limits_publishing(rules_hub):
    token = hs256(SECRET, "ann", publish=["game.moves", "game.chat.*"])
    ws = await ws_connect_as(rules_hub.ws(), token, "ann")
    await expect_ok(ws, {"type": "publish", "topic": "game.moves", "data": 1}, "ack")
    await expect_ok(ws, {"type": "publish", "topic": "game.chat.7", "data": 1}, "ack")
    await expect_error(ws, {"type": "publish", "topic": "game.score", "data": 1}, "forbidden")
    # The connection keeps working after a refusal.
    await expect_ok(ws, {"type": "ping"}, "pong")
    await ws.close()


async def test_pattern_overlapping_the_claims_delivers_only_readable_topics(rules_hub):
    """`game.**` overlaps the claim `game.public.*`: allowed, but only readable topics arrive."""
    token = hs256(SECRET, "ann", subscribe=["game.public.*"])
    ws = await ws_connect_as(rules_hub.ws(), token, "ann")
    await expect_ok(ws, {"type": "subscribe", "topic": "game.**"}, "subscribed")
    await admin_publish(rules_hub, "game.secret.1", {"n": "hidden"})
    await admin_publish(rules_hub, "game.public.1", {"n": "shown"})
    await admin_publish(rules_hub, "game.public.1.deep", {"n": "hidden-too"})
    await admin_publish(rules_hub, "game.public.2", {"n": "shown-2"})
    first = await recv_frame(ws)
    second = await recv_frame(ws)
    assert (first["topic"], first["data"], first["sub"]) == ("game.public.1", {"n": "shown"}, "game.**"), first
    assert (second["topic"], second["data"]) == ("game.public.2", {"n": "shown-2"}), second
    await expect_silence(ws)
    await ws.close()


async def test_invalid_pattern_in_claims_rejects_the_token(rules_hub):
    ws = await ws_connect(rules_hub.ws(), headers=bearer(hs256(SECRET, "ann", subscribe=["a..b"])))
    frame = await recv_frame(ws)
    assert frame["type"] == "error" and frame["code"] == "unauthorized" and "subscribe" in frame["message"], frame


# -- namespace rules ----------------------------------------------------------------------------

async def test_server_only_namespace(rules_hub):
    ws = await ws_connect_as(rules_hub.ws(), hs256(SECRET, "ann"), "ann")
    topic = f"news.{unique()}"
    await expect_ok(ws, {"type": "subscribe", "topic": topic}, "subscribed")
    reply = await expect_error(ws, {"type": "publish", "topic": topic, "data": 1}, "forbidden")
    assert "server" in reply["message"]
    # The API key may; a client token on the HTTP API may not.
    await admin_publish(rules_hub, topic, "headline")
    assert (await recv_frame(ws))["data"] == "headline"
    async with rules_hub.http() as client:
        r = await client.post("/api/publish", json={"topic": topic, "data": 1}, headers=bearer(hs256(SECRET, "ann")))
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", r.text
    await ws.close()


async def test_authenticated_publish_namespace_and_anonymous_clients(rules_hub):
    anonymous = await ws_connect(rules_hub.ws())
    topic = f"chat.{unique()}"
    await expect_ok(anonymous, {"type": "subscribe", "topic": topic}, "subscribed")
    await expect_error(anonymous, {"type": "publish", "topic": topic, "data": 1}, "forbidden")
    member = await ws_connect_as(rules_hub.ws(), hs256(SECRET, "bob"), "bob")
    await expect_ok(member, {"type": "publish", "topic": topic, "data": "hi"}, "ack")
    assert (await recv_frame(anonymous))["data"] == "hi"
    await anonymous.close()
    await member.close()


async def test_anonymous_subscribe_off(rules_hub):
    anonymous = await ws_connect(rules_hub.ws())
    await expect_error(anonymous, {"type": "subscribe", "topic": "private.room"}, "forbidden")
    await expect_error(anonymous, {"type": "subscribe", "topic": "private.*"}, "forbidden")
    # Wide patterns stand, but never deliver the private namespace to an anonymous client.
    await expect_ok(anonymous, {"type": "subscribe", "topic": "**"}, "subscribed")
    await admin_publish(rules_hub, "private.room", "secret")
    await admin_publish(rules_hub, "open.room", "public")
    frame = await recv_frame(anonymous)
    assert (frame["topic"], frame["data"]) == ("open.room", "public"), frame
    member = await ws_connect_as(rules_hub.ws(), hs256(SECRET, "bob"), "bob")
    await expect_ok(member, {"type": "subscribe", "topic": "private.room"}, "subscribed")
    await anonymous.close()
    await member.close()


@pytest.mark.parametrize("own, other", [("user:alice", "user:bob"), ("inbox.alice.mail", "inbox.bob.mail")])
async def test_user_scoped_topics(rules_hub, own, other):
    alice = await ws_connect_as(rules_hub.ws(), hs256(SECRET, "alice"), "alice")
    await expect_ok(alice, {"type": "subscribe", "topic": own}, "subscribed")
    await expect_error(alice, {"type": "subscribe", "topic": other}, "forbidden")
    await expect_error(alice, {"type": "publish", "topic": other, "data": 1}, "forbidden")
    await expect_ok(alice, {"type": "publish", "topic": own, "data": "note to self"}, "ack")
    assert (await recv_frame(alice))["data"] == "note to self"
    anonymous = await ws_connect(rules_hub.ws())
    await expect_error(anonymous, {"type": "subscribe", "topic": own}, "forbidden")
    await alice.close()
    await anonymous.close()


async def test_user_scoped_pattern_delivers_only_own_topics(rules_hub):
    alice = await ws_connect_as(rules_hub.ws(), hs256(SECRET, "alice"), "alice")
    await expect_ok(alice, {"type": "subscribe", "topic": "inbox.*.mail"}, "subscribed")
    await admin_publish(rules_hub, "inbox.bob.mail", "for bob")
    await admin_publish(rules_hub, "inbox.alice.mail", "for alice")
    frame = await recv_frame(alice)
    assert (frame["topic"], frame["data"]) == ("inbox.alice.mail", "for alice"), frame
    await expect_silence(alice)
    await alice.close()


# -- SSE and the HTTP API -----------------------------------------------------------------------

async def test_sse_forbidden_topic_is_403(rules_hub):
    async with httpx.AsyncClient(timeout=5) as client:
        r = await client.get(rules_hub.sse(topics=["user:bob"], token=hs256(SECRET, "alice")))
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", r.text


async def test_sse_pattern_is_filtered(rules_hub):
    async with sse_connect(rules_hub, topics=["inbox.**"], token=hs256(SECRET, "alice")) as stream:
        await asyncio.sleep(0.2)
        await admin_publish(rules_hub, "inbox.bob.x", "no")
        await admin_publish(rules_hub, "inbox.alice.x", "yes")
        event = await stream.next_event()
        assert json.loads(event.data)["data"] == "yes", event


async def test_http_api_client_token_follows_claims(rules_hub):
    token = hs256(SECRET, "ann", publish=["game.*"])
    async with rules_hub.http() as client:
        ok = await client.post("/api/publish", json={"topic": "game.1", "data": 1}, headers=bearer(token))
        assert ok.status_code == 200, ok.text
        denied = await client.post("/api/publish", json={"topic": "lobby", "data": 1}, headers=bearer(token))
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden", denied.text
        broadcast = await client.post("/api/broadcast", json={"topics": ["game.2", "lobby"], "data": 1}, headers=bearer(token))
        assert broadcast.status_code == 403, broadcast.text


async def test_unrestricted_development_hub_is_unchanged(hub):
    """No namespace rules and no claims: every subscription and publish is allowed."""
    ws = await ws_connect(hub.ws())
    for topic in ("user:bob", "news.x", "**"):
        await expect_ok(ws, {"type": "subscribe", "topic": topic}, "subscribed")
    await expect_ok(ws, {"type": "publish", "topic": "news.x", "data": 1}, "ack")
    await ws.close()

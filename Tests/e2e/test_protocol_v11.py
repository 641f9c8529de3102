"""Protocol v1.1, negotiated with the WebSocket subprotocol `chorus.v1.1`: `connected` first,
machine-readable `reason` on `error` and `disconnect` (docs/protocol.md, "Versions"). A
connection that does not ask for it speaks v1, unchanged (the rest of the suite proves that)."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid

import pytest

from conftest import (OP_TEXT, OTHER_SECRET, SECRET, RawWebSocket, bearer, hs256, recv_frame,
                      recv_until_closed, roundtrip, ws_connect)

V11 = "chorus.v1.1"
API_KEY = "protocol-v11-test-key"


def unique(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


async def connect_v11(url: str, **kw):
    ws = await ws_connect(url, subprotocols=[V11], **kw)
    assert ws.subprotocol == V11
    return ws


@pytest.fixture
def keyed_hub(hub_factory):
    """JWT secret + API key: tokens required, anonymous off."""
    return hub_factory(["--jwt-secret", SECRET, "--api-key", API_KEY])


async def connection_clients(hub, user: str | None = None) -> list[str]:
    async with hub.http(headers=bearer(API_KEY)) as c:
        conns = (await c.get("/api/connections")).json()["connections"]
    return [x["client"] for x in conns if user is None or x["user"] == user]


# -- negotiation ------------------------------------------------------------------------------

async def test_subprotocol_offered_is_selected(hub):
    raw = await RawWebSocket.connect(hub, headers={"Sec-WebSocket-Protocol": f"mqtt, {V11}"})
    try:
        assert raw.status == 101
        assert raw.headers.get("sec-websocket-protocol") == V11
    finally:
        await raw.aclose()


@pytest.mark.parametrize("offer", [None, "chorus.v2", "mqtt"], ids=["none", "unknown-version", "other-protocol"])
async def test_without_the_subprotocol_the_connection_speaks_v1(hub, offer):
    headers = {"Sec-WebSocket-Protocol": offer} if offer else None
    raw = await RawWebSocket.connect(hub, headers=headers)
    try:
        assert raw.status == 101
        assert "sec-websocket-protocol" not in raw.headers
    finally:
        await raw.aclose()
    # v1 as before: nothing is sent first; the first frame answers the client's first request.
    async with await ws_connect(hub.ws()) as ws:
        assert await roundtrip(ws, {"type": "ping", "id": 1}) == {"type": "pong", "id": 1}


# -- connected ----------------------------------------------------------------------------------

async def test_anonymous_connection_gets_connected_first_with_its_client_id(hub):
    async with await connect_v11(hub.ws(topics=["v11.room"])) as ws:
        connected = await recv_frame(ws)
        assert connected["type"] == "connected", connected
        assert connected["protocol"] == "1.1" and "user" not in connected, connected
        assert connected["client"] in await connection_clients(hub)
        # `?topic=` subscriptions follow it.
        assert (await recv_frame(ws))["type"] == "subscribed"


async def test_token_connection_gets_connected_instead_of_auth_success(keyed_hub):
    user = unique()
    exp = int(time.time()) + 600
    async with await connect_v11(keyed_hub.ws(), headers=bearer(hs256(SECRET, user, ttl=None, exp=exp))) as ws:
        connected = await recv_frame(ws)
        assert connected["type"] == "connected", connected
        assert connected["user"] == user and connected["protocol"] == "1.1", connected
        assert connected["expires_at"] == exp * 1000, connected
        assert await connection_clients(keyed_hub, user) == [connected["client"]]
        # Later `auth` frames are answered as in v1.
        again = await roundtrip(ws, {"type": "auth", "id": 1, "token": hs256(SECRET, user)})
        assert again["type"] == "auth_success" and again["client"] == connected["client"], again


@pytest.mark.parametrize("case,reason", [("expired", "token_expired"), ("wrong-key", "token_invalid"), ("garbage", "token_invalid")])
async def test_bad_token_at_connect_gets_no_connected(keyed_hub, case, reason):
    token = {"expired": hs256(SECRET, ttl=-30), "wrong-key": hs256(OTHER_SECRET), "garbage": "not.a.jwt"}[case]
    async with await connect_v11(keyed_hub.ws(token=token)) as ws:
        frames, code, _ = await recv_until_closed(ws)
    assert [f["type"] for f in frames] == ["error", "disconnect"], frames
    error, disconnect = frames
    assert error["code"] == "unauthorized" and error["reason"] == reason, error
    assert disconnect["code"] == 4001 and disconnect["reason"] == reason and disconnect["reconnect"] is False, disconnect
    assert disconnect["message"] == error["message"], frames
    assert code == 4001


# -- disconnect reasons ---------------------------------------------------------------------------

async def test_expired_token_at_runtime_is_token_expired(keyed_hub):
    exp = int(time.time()) + 2
    async with await connect_v11(keyed_hub.ws(token=hs256(SECRET, "alice", ttl=None, exp=exp))) as ws:
        assert (await recv_frame(ws))["type"] == "connected"
        frames, code, _ = await recv_until_closed(ws, timeout=(exp - time.time()) + 3)
    assert frames == [{"type": "disconnect", "code": 4001, "reason": "token_expired", "message": "token expired", "reconnect": True}]
    assert code == 4001


async def test_api_disconnect_is_kicked_with_the_callers_message(keyed_hub):
    user = unique()
    async with await connect_v11(keyed_hub.ws(token=hs256(SECRET, user))) as ws, \
            keyed_hub.http(headers=bearer(API_KEY)) as c:
        assert (await recv_frame(ws))["type"] == "connected"
        r = await c.post(f"/api/users/{user}/disconnect", json={"reason": "account suspended", "reconnect": False})
        assert r.status_code == 202, r.text
        frames, code, reason = await recv_until_closed(ws)
    assert frames == [{"type": "disconnect", "code": 1000, "reason": "kicked", "message": "account suspended", "reconnect": False}]
    assert code == 1000 and reason == "account suspended"


async def test_shutdown_is_shutdown(hub_factory):
    h = hub_factory()
    v11 = await connect_v11(h.ws())
    assert (await recv_frame(v11))["type"] == "connected"
    v1 = await ws_connect(h.ws())
    assert await roundtrip(v1, {"type": "ping", "id": 1}) == {"type": "pong", "id": 1}
    h.signal(signal.SIGTERM)
    frames, code, _ = await recv_until_closed(v11, timeout=5)
    assert frames == [{"type": "disconnect", "code": 1001, "reason": "shutdown", "message": "hub shutting down", "reconnect": True}]
    assert code == 1001
    # The v1 connection next to it gets the v1 frame, byte for byte as before.
    frames, code, _ = await recv_until_closed(v1, timeout=5)
    assert frames == [{"type": "disconnect", "code": 1001, "reason": "hub shutting down", "reconnect": True}]
    status = await asyncio.get_running_loop().run_in_executor(None, h.wait, 10)
    assert status == 0


async def test_idle_timeout_is_idle_timeout(hub_factory):
    h = hub_factory(["--ping-interval", "30s", "--idle-timeout", "600ms"])
    raw = await RawWebSocket.connect(h, headers={"Sec-WebSocket-Protocol": V11})
    try:
        assert raw.headers.get("sec-websocket-protocol") == V11
        frames, code = await raw.recv_until_close(timeout=5)
    finally:
        await raw.aclose()
    assert [(op, json.loads(p)["type"]) for op, p in frames] == [(OP_TEXT, "connected"), (OP_TEXT, "disconnect")], frames
    assert json.loads(frames[1][1]) == {
        "type": "disconnect", "code": 1001, "reason": "idle_timeout", "message": "idle timeout", "reconnect": True}
    assert code == 1001


async def test_error_frames_carry_the_reason_of_a_refused_auth_frame(keyed_hub):
    async with await connect_v11(keyed_hub.ws()) as ws:
        first = await recv_frame(ws)
        # No `connected` on a hub that needs a token until one is accepted.
        assert first["type"] == "error" and first["reason"] == "token_required", first
        # Without a token: the code alone says what to do (authenticate).
        refused = await roundtrip(ws, {"type": "subscribe", "id": 1, "topic": "a"})
        assert refused["code"] == "unauthorized" and "reason" not in refused, refused
        frames, code, _ = await _auth_and_close(ws, hs256(SECRET, ttl=-30))
    assert frames[0]["type"] == "error" and frames[0]["id"] == 2 and frames[0]["reason"] == "token_expired", frames
    assert frames[1]["reason"] == "token_expired" and code == 4001, frames


async def _auth_and_close(ws, token: str):
    await ws.send(json.dumps({"type": "auth", "id": 2, "token": token}))
    return await recv_until_closed(ws)


# -- the same reasons on the HTTP API (#20: one wording for token errors) ----------------------

async def test_http_api_token_refusals_carry_the_same_reason_and_words_as_websocket(keyed_hub):
    expired = hs256(SECRET, "alice", ttl=-30)
    async with keyed_hub.http() as c:
        r = await c.post("/api/publish", json={"topic": "chat:a", "data": 1}, headers=bearer(expired))
        assert r.status_code == 401, r.text
        assert r.json()["error"]["reason"] == "token_expired" and "expired" in r.json()["error"]["message"], r.text
        for bad in (hs256(OTHER_SECRET, "alice"), "not-a-key-or-token"):
            r = await c.post("/api/publish", json={"topic": "chat:a", "data": 1}, headers=bearer(bad))
            assert r.status_code == 401 and r.json()["error"]["reason"] == "token_invalid", r.text
        # A valid client token on an API-key endpoint: forbidden, and the words say what tokens may do.
        r = await c.get("/api/stats", headers=bearer(hs256(SECRET, "alice")))
        assert r.status_code == 403, r.text
        message = r.json()["error"]["message"]
        assert "read history" in message and "API key" in message and "reason" not in r.json()["error"], r.text
        http_words = (await c.post("/api/publish", json={"topic": "chat:a", "data": 1}, headers=bearer(expired))).json()["error"]["message"]
    # Over WebSocket the expired token is refused with the same words and reason.
    ws = await connect_v11(keyed_hub.ws(token=expired))
    frames, code, _ = await recv_until_closed(ws)
    assert code == 4001 and frames[0]["type"] == "error", frames
    assert frames[0]["reason"] == "token_expired" and frames[0]["message"] == http_words, frames


# -- `connected` means usable (#20: no "Connected" on a hub that refuses every request) ---------

async def test_no_connected_without_a_token_on_a_hub_that_needs_one_until_auth_succeeds(keyed_hub):
    ws = await connect_v11(keyed_hub.ws(topics=["chat:a"]))
    first = await recv_frame(ws)
    assert first == {"type": "error", "code": "unauthorized", "reason": "token_required",
                     "message": "this hub needs a token: connect with one, or send an 'auth' frame"}, first
    # The ?topic= subscription is refused, not confirmed.
    refused = await recv_frame(ws)
    assert refused["type"] == "error" and refused["code"] == "unauthorized", refused
    # Still open for `auth`; the `auth` that succeeds brings `connected`, then its answer.
    await ws.send(json.dumps({"type": "auth", "id": 1, "token": hs256(SECRET, "alice")}))
    connected = await recv_frame(ws)
    assert connected["type"] == "connected" and connected["user"] == "alice" and connected["protocol"] == "1.1", connected
    answer = await recv_frame(ws)
    assert answer["type"] == "auth_success" and answer["id"] == 1 and answer["client"] == connected["client"], answer
    assert (await roundtrip(ws, {"type": "subscribe", "id": 2, "topic": "chat:a"}))["type"] == "subscribed"
    await ws.close()


async def test_a_v1_connection_without_a_token_is_unchanged(keyed_hub):
    ws = await ws_connect(keyed_hub.ws())
    await ws.send(json.dumps({"type": "subscribe", "id": 1, "topic": "chat:a"}))
    reply = await recv_frame(ws)
    assert reply["type"] == "error" and reply["code"] == "unauthorized" and "reason" not in reply, reply
    await ws.close()

"""Secrets never reach the logs: every way a client or backend presents a credential, valid or
not, with the hub logging at `trace`, and none of the credentials appears in its output."""
from __future__ import annotations

import httpx

from conftest import SECRET, hs256, recv_frame, roundtrip, sse_connect, ws_connect

API_KEY = "api-key-that-must-never-be-logged-42"
WRONG_KEY = "wrong-key-that-must-never-be-logged-7"


async def test_credentials_never_appear_in_the_logs(hub_factory):
    h = hub_factory(["--jwt-secret", SECRET, "--api-key", API_KEY, "--log-level", "trace"])
    token = hs256(SECRET, user="alice")
    expired = hs256(SECRET, user="alice", ttl=-60)
    forged = hs256("a-different-secret-0123456789abcdef", user="mallory")

    # WebSocket: token in the query, in the header, in an auth frame; bad and expired tokens too.
    async with await ws_connect(h.ws(topics=["a"]) + f"&token={token}") as ws:
        assert (await recv_frame(ws))["type"] == "auth_success"
        assert (await recv_frame(ws))["type"] == "subscribed"
        assert (await roundtrip(ws, {"type": "auth", "id": 1, "token": token}))["type"] == "auth_success"
    async with await ws_connect(h.ws(), headers={"Authorization": f"Bearer {token}"}) as ws:
        assert (await recv_frame(ws))["type"] == "auth_success"
    for bad in (expired, forged):
        async with await ws_connect(h.ws()) as ws:
            reply = await roundtrip(ws, {"type": "auth", "id": 2, "token": bad})
            assert reply["type"] == "error" and reply["code"] == "unauthorized", reply

    # SSE: token in the query and in the cookie.
    async with sse_connect(h, topics=["a"], token=token):
        pass
    async with sse_connect(h, topics=["a"], cookies={"chorus_token": token}):
        pass

    # HTTP API: the key, a wrong key, a client token, a forged token.
    async with httpx.AsyncClient(base_url=h.url, timeout=5) as c:
        ok = await c.post("/api/publish", json={"topic": "a", "data": 1}, headers={"Authorization": f"Bearer {API_KEY}"})
        assert ok.status_code == 200, ok.text
        for credential, status in ((WRONG_KEY, 401), (token, 403), (forged, 401)):
            r = await c.get("/api/stats", headers={"Authorization": f"Bearer {credential}"})
            assert r.status_code == status, (status, r.text)

    h.stop()
    log = h.stderr
    assert "Chorus hub listening" in log and len(log.splitlines()) > 5, log   # it did log, at trace level
    for secret in (SECRET, API_KEY, WRONG_KEY, token, expired, forged, token.rsplit(".", 1)[1], forged.rsplit(".", 1)[1]):
        assert secret not in log, f"a credential appears in the hub's log: {secret[:12]}…"

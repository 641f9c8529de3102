"""Every error code reachable today, and that a connection survives each error frame."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from conftest import (OP_CONT, OP_TEXT, SECRET, RawWebSocket, hs256, recv_frame,
                      recv_until_closed, roundtrip, stats, ws_connect)


def unique(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


async def assert_still_works(ws) -> None:
    """The connection is open and fully functional: subscribe, publish, receive, unsubscribe."""
    topic = unique("alive.")
    assert await roundtrip(ws, {"type": "subscribe", "id": "s", "topic": topic}) == \
        {"type": "subscribed", "id": "s", "topic": topic}
    ack = await roundtrip(ws, {"type": "publish", "id": "p", "topic": topic, "data": "still here"})
    assert ack["type"] == "ack" and ack["id"] == "p", ack
    m = await recv_frame(ws)
    assert m["type"] == "message" and m["data"] == "still here" and m["message_id"] == ack["message_id"], m
    assert await roundtrip(ws, {"type": "unsubscribe", "id": "u", "topic": topic}) == \
        {"type": "unsubscribed", "id": "u", "topic": topic}


def assert_error(frame: dict, code: str, id_=None) -> None:
    assert frame["type"] == "error", frame
    assert frame["code"] == code, frame
    assert isinstance(frame["message"], str) and frame["message"], frame
    if id_ is None:
        assert "id" not in frame, frame
    else:
        assert frame["id"] == id_, frame


# -- bad_request ---------------------------------------------------------------------------------

MALFORMED = [
    "{not json",
    '{"type":"ping"',
    "",
    "[1, 2]",
    '"a string"',
    "42",
    "null",
    '{"type":"ping","id":1} trailing',
]


@pytest.mark.parametrize("raw", MALFORMED, ids=[f"malformed{i}" for i in range(len(MALFORMED))])
async def test_malformed_frames_are_bad_request(hub, raw):
    async with await ws_connect(hub.ws()) as ws:
        await ws.send(raw)
        assert_error(await recv_frame(ws), "bad_request")
        await assert_still_works(ws)


BAD_FRAMES = [
    # (frame, why)
    ({"id": 1}, "missing type"),
    ({"type": 5, "id": 1}, "type not a string"),
    ({"type": "subscribe", "id": 1}, "subscribe without topic"),
    ({"type": "subscribe", "topic": 5, "id": 1}, "topic not a string"),
    ({"type": "subscribe", "topic": ["a"], "id": 1}, "topic an array"),
    ({"type": "subscribe", "topic": "", "id": 1}, "empty topic"),
    ({"type": "subscribe", "topic": "a..b", "id": 1}, "empty segment"),
    ({"type": "subscribe", "topic": ".a", "id": 1}, "leading dot"),
    ({"type": "subscribe", "topic": "a.", "id": 1}, "trailing dot"),
    ({"type": "subscribe", "topic": "a b", "id": 1}, "space"),
    ({"type": "subscribe", "topic": "caf\u00e9", "id": 1}, "non-ASCII"),
    ({"type": "subscribe", "topic": "a.b*", "id": 1}, "partial wildcard"),
    ({"type": "subscribe", "topic": "a.**.b", "id": 1}, "** not last"),
    ({"type": "subscribe", "topic": "x" * 256, "id": 1}, "longer than 255 bytes"),
    ({"type": "subscribe", "topic": ".".join(["s"] * 17), "id": 1}, "17 segments"),
    ({"type": "subscribe", "topic": "a", "since": 5, "id": 1}, "since not an object"),
    ({"type": "unsubscribe", "id": 1}, "unsubscribe without topic"),
    ({"type": "unsubscribe", "topic": "a..b", "id": 1}, "unsubscribe bad topic"),
    ({"type": "publish", "data": 1, "id": 1}, "publish without topic"),
    ({"type": "publish", "topic": "a.b", "id": 1}, "publish without data"),
    ({"type": "publish", "topic": 7, "data": 1, "id": 1}, "publish topic not a string"),
    ({"type": "publish", "topic": "a.b", "event": 5, "data": 1, "id": 1}, "event not a string"),
    ({"type": "publish", "topic": "a.*", "data": 1, "id": 1}, "publish to * pattern"),
    ({"type": "publish", "topic": "a.**", "data": 1, "id": 1}, "publish to ** pattern"),
    ({"type": "publish", "topic": "a..b", "data": 1, "id": 1}, "publish bad topic"),
    ({"type": "message", "topic": "a.*", "data": 1, "id": 1}, "alias publish to pattern"),
    ({"type": "publish", "topic": "a", "data": 1, "idempotency_key": 5, "id": 1}, "idempotency_key not a string"),
    ({"type": "direct", "event": "x", "data": 1, "id": 1}, "direct without to"),
    ({"type": "direct", "to": 5, "event": "x", "data": 1, "id": 1}, "direct to not a string"),
    ({"type": "direct", "to": "bob", "event": "x", "id": 1}, "direct without data"),
    ({"type": "auth", "id": 1}, "auth without token"),
    ({"type": "auth", "token": 5, "id": 1}, "auth token not a string"),
]


@pytest.mark.parametrize("frame,why", BAD_FRAMES, ids=[w for _, w in BAD_FRAMES])
async def test_bad_frames_are_bad_request_and_echo_id(hub, frame, why):
    async with await ws_connect(hub.ws()) as ws:
        assert_error(await roundtrip(ws, frame), "bad_request", frame.get("id"))
        await assert_still_works(ws)


@pytest.mark.parametrize("id_", [1, 0, -3, 2.5, "abc", "", "x" * 100])
async def test_error_echoes_id_of_any_allowed_type(hub, id_):
    async with await ws_connect(hub.ws()) as ws:
        assert_error(await roundtrip(ws, {"type": "publish", "topic": "a.*", "data": 1, "id": id_}),
                     "bad_request", id_)


@pytest.mark.parametrize("id_", [{"a": 1}, [1], True, None])
async def test_invalid_id_type_is_bad_request(hub, id_):
    async with await ws_connect(hub.ws()) as ws:
        frame = await roundtrip(ws, {"type": "ping", "id": id_})
        assert frame["type"] == "error" and frame["code"] == "bad_request", frame
        await assert_still_works(ws)


async def test_binary_frame_is_bad_request(hub):
    async with await ws_connect(hub.ws()) as ws:
        await ws.send(json.dumps({"type": "ping", "id": 1}).encode())
        assert_error(await recv_frame(ws), "bad_request")
        await assert_still_works(ws)


async def test_several_errors_in_a_row_keep_the_connection(hub):
    async with await ws_connect(hub.ws()) as ws:
        for i in range(20):
            assert_error(await roundtrip(ws, {"type": "subscribe", "topic": "bad..topic", "id": i}), "bad_request", i)
        await assert_still_works(ws)


# -- unknown_type --------------------------------------------------------------------------------

@pytest.mark.parametrize("frame", [
    {"type": "chat:send", "text": "hi", "id": 1},
    {"type": "custom", "id": "c"},
], ids=["chat:send", "custom"])
async def test_unknown_type(hub, frame):
    async with await ws_connect(hub.ws()) as ws:
        assert_error(await roundtrip(ws, frame), "unknown_type", frame["id"])
        await assert_still_works(ws)


PRESENCE_FRAMES = [
    {"type": "presence", "topic": "room.1", "id": 2},
    {"type": "presence_update", "topic": "room.1", "meta": {"status": "away"}, "id": 3},
]


@pytest.mark.parametrize("frame", PRESENCE_FRAMES, ids=["presence", "presence_update"])
async def test_presence_frames_are_unknown_where_no_namespace_has_presence(hub_factory, frame):
    h = hub_factory(["--namespaces", "{}"])
    async with await ws_connect(h.ws()) as ws:
        assert_error(await roundtrip(ws, frame), "unknown_type", frame["id"])
        await assert_still_works(ws)


@pytest.mark.parametrize("frame", PRESENCE_FRAMES, ids=["presence", "presence_update"])
async def test_presence_outside_the_demo_namespace_is_forbidden_on_chorus_serve(hub, frame):
    # `chorus serve` turns presence on in `demo` only (the /demo room): elsewhere it is refused.
    async with await ws_connect(hub.ws()) as ws:
        reply = await roundtrip(ws, frame)
        assert_error(reply, "forbidden", frame["id"])
        assert "namespace 'room' has no presence" in reply["message"], reply
        await assert_still_works(ws)


# -- too_large -----------------------------------------------------------------------------------

async def test_publish_data_too_large_is_error_frame(hub_factory):
    # Anonymous clients may send `direct` only when `direct_messages` allows every client.
    h = hub_factory(["--max-publish-size", "1KiB", "--direct-messages", "clients"])
    async with await ws_connect(h.ws()) as ws:
        ok = await roundtrip(ws, {"type": "publish", "id": 1, "topic": "big", "data": "x" * 1000})
        assert ok["type"] == "ack", ok
        assert_error(await roundtrip(ws, {"type": "publish", "id": 2, "topic": "big", "data": "x" * 1100}),
                     "too_large", 2)
        assert_error(await roundtrip(ws, {"type": "direct", "id": 3, "to": "bob", "event": "e", "data": "x" * 1100}),
                     "too_large", 3)
        await assert_still_works(ws)


async def test_default_publish_limit_is_64kib(hub):
    async with await ws_connect(hub.ws()) as ws:
        ok = await roundtrip(ws, {"type": "publish", "id": 1, "topic": "big", "data": "x" * (65536 - 2)})
        assert ok["type"] == "ack", ok
        assert_error(await roundtrip(ws, {"type": "publish", "id": 2, "topic": "big", "data": "x" * 65536}),
                     "too_large", 2)
        await assert_still_works(ws)


async def test_frame_larger_than_max_message_size_closes_1009(hub_factory):
    h = hub_factory(["--max-message-size", "2KiB", "--max-publish-size", "8KiB"])
    async with await ws_connect(h.ws()) as ws:
        ok = await roundtrip(ws, {"type": "publish", "topic": "a", "data": "x" * 1800})
        assert ok["type"] == "ack", ok
        await ws.send(json.dumps({"type": "publish", "topic": "a", "data": "x" * 3000}))
        frames, code, _ = await recv_until_closed(ws)
        assert code == 1009, (code, frames)


async def test_default_max_message_size_is_1mib(hub):
    async with await ws_connect(hub.ws()) as ws:
        await ws.send("{" + " " * (1024 * 1024) + "}")
        frames, code, _ = await recv_until_closed(ws, timeout=5)
        assert code == 1009, (code, frames)


async def test_fragmented_message_larger_than_limit_closes_1009(hub_factory):
    h = hub_factory(["--max-message-size", "1KiB"])
    raw = await RawWebSocket.connect(h)
    try:
        assert raw.status == 101
        for i in range(4):
            await raw.send_frame(OP_TEXT if i == 0 else OP_CONT, b" " * 400, fin=(i == 3))
        _, code = await raw.recv_until_close()
        assert code == 1009
    finally:
        await raw.aclose()


async def test_fragmented_message_within_limit_is_reassembled(hub):
    raw = await RawWebSocket.connect(hub)
    try:
        payload = json.dumps({"type": "ping", "id": "frag", "timestamp": 1}).encode()
        parts = [payload[:5], payload[5:12], payload[12:]]
        for i, part in enumerate(parts):
            await raw.send_frame(OP_TEXT if i == 0 else OP_CONT, part, fin=(i == len(parts) - 1))
        assert await raw.recv_json() == {"type": "pong", "id": "frag", "timestamp": 1}
    finally:
        await raw.aclose()


async def test_unmasked_client_frame_is_a_protocol_error(hub):
    """RFC 6455 5.1: a server must close the connection on an unmasked client frame (1002)."""
    raw = await RawWebSocket.connect(hub)
    try:
        await raw.send_json({"type": "ping", "id": 1}, mask=False)
        frames, code = await raw.recv_until_close()
        assert code == 1002, (code, frames)
    finally:
        await raw.aclose()


async def test_invalid_utf8_text_frame_closes_1007(hub):
    raw = await RawWebSocket.connect(hub)
    try:
        await raw.send_frame(OP_TEXT, b'{"type":"ping","x":"\xff\xfe"}')
        frames, code = await raw.recv_until_close()
        assert code == 1007, (code, frames)
    finally:
        await raw.aclose()


# -- unauthorized / forbidden ----------------------------------------------------------------------

async def test_unauthorized_and_forbidden(hub_factory):
    h = hub_factory(["--jwt-secret", SECRET])
    async with await ws_connect(h.ws()) as ws:
        assert_error(await roundtrip(ws, {"type": "subscribe", "topic": "a", "id": 1}), "unauthorized", 1)
        assert_error(await roundtrip(ws, {"type": "publish", "topic": "a", "data": 1, "id": 2}), "unauthorized", 2)
        assert await roundtrip(ws, {"type": "ping", "id": 3}) == {"type": "pong", "id": 3}
        ok = await roundtrip(ws, {"type": "auth", "token": hs256(SECRET, "alice"), "id": 4})
        assert ok["type"] == "auth_success", ok
        assert_error(await roundtrip(ws, {"type": "auth", "token": hs256(SECRET, "bob"), "id": 5}), "forbidden", 5)
        await assert_still_works(ws)


# -- not_found (HTTP) and the error counters -------------------------------------------------------

async def test_not_found_and_error_counters(hub_factory):
    h = hub_factory()
    async with httpx.AsyncClient(base_url=h.url, timeout=5) as c:
        r = await c.get("/api/does-not-exist")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = await c.get("/no-such-page")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = await c.get("/")   # a person opening the hub lands on the demo
        assert r.status_code == 302 and r.headers["location"] == "/demo"
    async with await ws_connect(h.ws()) as ws:
        assert_error(await roundtrip(ws, {"type": "nope", "id": 1}), "unknown_type", 1)
        assert_error(await roundtrip(ws, {"type": "publish", "topic": "a.*", "data": 1, "id": 2}), "bad_request", 2)
        assert_error(await roundtrip(ws, {"type": "publish", "topic": "a", "data": "x" * 70000, "id": 3}), "too_large", 3)
    s = await stats(h)
    assert s["errors"]["not_found"] == 2, s["errors"]
    assert s["errors"]["unknown_type"] == 1, s["errors"]
    assert s["errors"]["bad_request"] == 1, s["errors"]
    assert s["errors"]["too_large"] == 1, s["errors"]
    assert s["errors"]["internal"] == 0, s["errors"]

"""Binary messages end to end (issue #22 item 1): a binary WebSocket frame (docs/protocol.md,
"Binary frames") publishes raw bytes; subscribers that opened /ws?binary=1 receive them as a
binary frame, byte for byte; JSON WebSocket and SSE subscribers receive the same message with
`data` base64 and `encoding: "base64"`; HTTP publishes `application/octet-stream`; history
(SQLite, and Redis in a cluster) and recovery give binary messages back the way they came;
limits count their bytes; malformed binary frames get a clear `error` and the connection lives.
Shared header vectors: Tests/vectors/binary-frames.json."""
from __future__ import annotations

import base64
import json
import struct
import uuid
from pathlib import Path
from typing import Any

from conftest import (Hub, http_publish, recv_frame, recv_type, report_crash, roundtrip, send, sse_connect,
                      subscribe, wait_for, ws_connect)

import pytest

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "binary-frames.json").read_text())
NAMESPACES = json.dumps({"chat": {"history_size": 100}})
PAYLOAD = bytes(range(256)) + b"\x00\xff\r\n{not json"


def uid(prefix: str = "b") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def binary_frame(header: dict[str, Any], data: bytes) -> bytes:
    raw = json.dumps(header, separators=(",", ":")).encode()
    return bytes([1]) + struct.pack(">H", len(raw)) + raw + data


def parse_binary(frame: bytes) -> tuple[dict, bytes]:
    assert frame[0] == 1, frame[:8]
    (length,) = struct.unpack(">H", frame[1:3])
    return json.loads(frame[3:3 + length]), frame[3 + length:]


async def recv_binary(ws, timeout: float = 3.0) -> tuple[dict, bytes]:
    import asyncio
    raw = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(raw, bytes), f"expected a binary frame, got {raw!r}"
    return parse_binary(raw)


@pytest.fixture(scope="module")
def bhub():
    h = Hub(["--namespaces", NAMESPACES, "--max-publish-size", "4KiB"]).start()
    yield h
    h.stop()
    report_crash(h)


async def _subscribers(hub, topic: str) -> int:
    async with hub.http() as c:
        topics = (await c.get("/api/topics")).json()["topics"]
    return next((t["subscribers"] for t in topics if t["topic"] == topic), 0)


def test_the_shared_vectors_split_as_documented():
    for vector in VECTORS["valid"]:
        frame = bytes.fromhex(vector["frame"])
        header, data = parse_binary(frame)
        assert header == vector["header"] and data == bytes.fromhex(vector["data"]), vector["name"]
        assert binary_frame(vector["header"], data) == frame, vector["name"]


async def test_a_binary_publish_reaches_binary_json_and_sse_subscribers(bhub):
    topic = uid("news.")
    async with sse_connect(bhub, topics=[topic]) as stream:
        binary = await ws_connect(bhub.ws(binary=1))
        plain = await ws_connect(bhub.ws_url)
        pub = await ws_connect(bhub.ws_url)
        for ws in (binary, plain):
            await subscribe(ws, topic)
        await wait_for(lambda: _subscribers(bhub, topic), what="SSE subscriber")
        await pub.send(binary_frame({"type": "publish", "topic": topic, "event": "blob", "id": "p1"}, PAYLOAD))
        ack = await recv_frame(pub)
        assert ack["type"] == "ack" and ack["id"] == "p1", ack

        header, data = await recv_binary(binary)
        assert data == PAYLOAD
        assert header["type"] == "message" and header["topic"] == topic and header["event"] == "blob", header
        assert header["message_id"] == ack["message_id"] and isinstance(header["ts"], int) and "data" not in header
        assert header["from"]["client"], header

        frame = await recv_frame(plain)
        assert frame["encoding"] == "base64" and base64.b64decode(frame["data"]) == PAYLOAD, frame
        assert frame["message_id"] == ack["message_id"]

        event = await stream.next_event()
        sse = event.json()
        assert sse["encoding"] == "base64" and base64.b64decode(sse["data"]) == PAYLOAD, sse

        # JSON messages stay JSON text frames for the binary subscriber.
        await http_publish(bhub, topic, {"n": 1})
        assert (await recv_frame(binary))["data"] == {"n": 1}
        for ws in (binary, plain, pub):
            await ws.close()


async def test_http_octet_stream_publish(bhub):
    topic = uid("news.")
    binary = await ws_connect(bhub.ws(binary=1))
    await subscribe(binary, topic)
    async with bhub.http() as c:
        r = await c.post(f"/api/publish/{topic}", params={"event": "file"}, content=PAYLOAD,
                         headers={"content-type": "application/octet-stream"})
        assert r.status_code == 200, r.text
        header, data = await recv_binary(binary)
        assert data == PAYLOAD and header["event"] == "file" and header["message_id"] == r.json()["message_id"]
        # Bytes to the JSON route, or JSON to the binary route: 415, saying where each goes.
        wrong = await c.post("/api/publish", content=b"x", headers={"content-type": "application/octet-stream"})
        assert wrong.status_code == 415 and wrong.json()["error"]["code"] == "unsupported_media_type", wrong.text
        json_body = await c.post(f"/api/publish/{topic}", json={"data": 1})
        assert json_body.status_code == 415 and "application/octet-stream" in json_body.json()["error"]["message"], json_body.text
        bad_topic = await c.post("/api/publish/bad..topic", content=b"x", headers={"content-type": "application/octet-stream"})
        assert bad_topic.status_code == 400 and bad_topic.json()["error"]["code"] == "bad_request", bad_topic.text
        big = await c.post(f"/api/publish/{topic}", content=b"x" * 5000,
                           headers={"content-type": "application/octet-stream"})
        assert big.status_code == 413 and big.json()["error"]["code"] == "too_large", big.text
    await binary.close()


async def test_history_and_recovery_return_binary_messages_the_way_they_came(bhub):
    topic = f"chat:{uid()}"
    pub = await ws_connect(bhub.ws_url)
    await pub.send(binary_frame({"type": "publish", "topic": topic, "id": 1}, PAYLOAD))
    first = await recv_frame(pub)
    await send(pub, {"type": "publish", "topic": topic, "id": 2, "data": {"json": True}})
    second = await recv_frame(pub)
    assert first["type"] == second["type"] == "ack" and second["offset"] == first["offset"] + 1, (first, second)

    async with bhub.http() as c:
        body = (await c.get(f"/api/topics/{topic}/history")).json()
    stored = body["messages"]
    assert base64.b64decode(stored[0]["data"]) == PAYLOAD and stored[0]["encoding"] == "base64", stored
    assert stored[1]["data"] == {"json": True} and "encoding" not in stored[1], stored

    since = {"offset": 0, "epoch": first["epoch"]}
    binary = await ws_connect(bhub.ws(binary=1))
    await send(binary, {"type": "subscribe", "topic": topic, "since": since})
    assert (await recv_frame(binary))["recovered"] is True
    header, data = await recv_binary(binary)
    assert data == PAYLOAD and header["offset"] == first["offset"] and header["epoch"] == first["epoch"], header
    assert (await recv_frame(binary))["data"] == {"json": True}

    plain = await ws_connect(bhub.ws_url)
    await send(plain, {"type": "subscribe", "topic": topic, "since": since})
    assert (await recv_frame(plain))["recovered"] is True
    replayed = await recv_frame(plain)
    assert base64.b64decode(replayed["data"]) == PAYLOAD and replayed["encoding"] == "base64", replayed
    for ws in (pub, binary, plain):
        await ws.close()


async def test_too_large_and_malformed_binary_frames_get_clear_errors(bhub):
    topic = uid("news.")
    ws = await ws_connect(bhub.ws_url)
    await ws.send(binary_frame({"type": "publish", "topic": topic, "id": "big"}, b"x" * 5000))
    reply = await recv_frame(ws)
    assert reply["type"] == "error" and reply["code"] == "too_large" and reply["id"] == "big", reply
    for vector in VECTORS["invalid"]:
        await ws.send(bytes.fromhex(vector["frame"]))
        reply = await recv_frame(ws)
        assert reply["type"] == "error" and reply["code"] == "bad_request", (vector["name"], reply)
        assert vector["error"] in reply["message"], (vector["name"], reply)
    assert (await roundtrip(ws, {"type": "ping", "id": "alive"}))["type"] == "pong"
    await ws.close()


async def test_a_binary_message_crosses_a_redis_cluster_and_its_history(hub_factory, redis_server):
    a, b = [hub_factory(["--broker", "redis", "--redis-url", redis_server.url, "--node-id", f"n{i}",
                         "--namespaces", NAMESPACES]) for i in range(2)]
    topic = f"chat:{uid()}"
    sub = await ws_connect(b.ws(binary=1))
    await subscribe(sub, topic)
    pub = await ws_connect(a.ws_url)
    await pub.send(binary_frame({"type": "publish", "topic": topic, "id": 1}, PAYLOAD))
    ack = await recv_type(pub, "ack")
    header, data = await recv_binary(sub, timeout=10)
    assert data == PAYLOAD and header["offset"] == ack["offset"], header
    late = await ws_connect(b.ws(binary=1))
    await send(late, {"type": "subscribe", "topic": topic, "since": {"offset": 0, "epoch": ack["epoch"]}})
    assert (await recv_frame(late))["recovered"] is True
    assert (await recv_binary(late))[1] == PAYLOAD
    for ws in (sub, pub, late):
        await ws.close()

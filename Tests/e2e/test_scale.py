"""Scale: 1,000 concurrent subscribers receive every broadcast in order; 5,000 connections
opened and closed leave no connection or subscription behind."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from conftest import Hub, RawWebSocket, parse_metrics, recv_frame, settle, wait_for, ws_connect

SUBSCRIBERS = 1000
BROADCASTS = 100
CHURN = 5000
CHURN_BATCH = 500


@pytest.fixture
def scale_hub():
    h = Hub().start()
    yield h
    h.stop()


async def _open_subscribers(hub: Hub, topic: str, n: int, batch: int = 100):
    clients = []
    for start in range(0, n, batch):
        batch_clients = await asyncio.gather(*(ws_connect(hub.ws(topics=[topic])) for _ in range(min(batch, n - start))))
        frames = await asyncio.gather(*(recv_frame(ws, timeout=10) for ws in batch_clients))
        assert all(f == {"type": "subscribed", "topic": topic} for f in frames), frames[:3]
        clients.extend(batch_clients)
    return clients


async def test_1000_subscribers_receive_100_broadcasts_in_order(scale_hub):
    hub = scale_hub
    topic = "scale.room"
    clients = await _open_subscribers(hub, topic, SUBSCRIBERS)
    try:
        async with hub.http() as c:
            t = (await c.get("/api/topics")).json()["topics"]
            assert {"topic": topic, "subscribers": SUBSCRIBERS} in t, t

        async def collect(ws):
            got = []
            while len(got) < BROADCASTS:
                frame = await recv_frame(ws, timeout=30)
                assert frame["type"] == "message", frame
                got.append((frame["data"]["seq"], frame["message_id"]))
            return got

        readers = [asyncio.create_task(collect(ws)) for ws in clients]
        try:
            expected_ids = []
            async with hub.http() as c:
                for seq in range(BROADCASTS):
                    r = await c.post("/api/broadcast", json={"topics": [topic], "event": "tick", "data": {"seq": seq}})
                    assert r.status_code == 200, r.text
                    results = r.json()["results"]
                    assert [x["topic"] for x in results] == [topic]
                    expected_ids.append(results[0]["message_id"])

            received = await asyncio.wait_for(asyncio.gather(*readers), 90)
        finally:
            await settle(*readers)
        expected = list(zip(range(BROADCASTS), expected_ids))
        bad = [i for i, got in enumerate(received) if got != expected]
        assert not bad, f"{len(bad)} of {SUBSCRIBERS} clients missed or reordered messages; first: {received[bad[0]][:5]}"

        async def all_counted():
            async with hub.http() as c:
                s = (await c.get("/api/stats")).json()
            return s if s["messages"]["delivered"] >= SUBSCRIBERS * BROADCASTS else None
        s = await wait_for(all_counted, timeout=10, what="deliveries counted")
        assert s["messages"]["published"] == BROADCASTS
        assert s["messages"]["delivered"] == SUBSCRIBERS * BROADCASTS
    finally:
        await asyncio.gather(*(ws.close() for ws in clients), return_exceptions=True)


async def _churn_one(hub: Hub, i: int) -> None:
    raw = await RawWebSocket.connect(hub, path=f"/ws?topic=churn.{i % 50}&topic=churn.{i % 7}.*", timeout=10)
    assert raw.status == 101
    for _ in range(2):
        frame = await raw.recv_json(timeout=10)
        assert frame["type"] == "subscribed", frame
    mode = i % 3
    if mode == 0:
        # clean close handshake
        await raw.send_close(1000)
        frames, code = await raw.recv_until_close(timeout=10)
        assert code == 1000, (code, frames)
        await raw.aclose()
    elif mode == 1:
        # TCP FIN without a close frame
        await raw.aclose()
    else:
        # TCP RST
        sock = raw.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.writer.transport.abort()


async def test_5000_connections_open_and_close_leave_nothing_behind(scale_hub):
    hub = scale_hub
    for start in range(0, CHURN, CHURN_BATCH):
        await asyncio.gather(*(_churn_one(hub, i) for i in range(start, start + CHURN_BATCH)))

    async def drained():
        async with hub.http() as c:
            s = (await c.get("/api/stats")).json()
        return s if (s["connections"]["total"] == 0 and s["subscriptions"] == 0 and s["topics"] == 0) else None
    s = await wait_for(drained, timeout=15, interval=0.2, what="0 connections and 0 subscriptions")
    assert s["connections"]["by_transport"] == {"websocket": 0, "sse": 0}

    async with hub.http() as c:
        topics = (await c.get("/api/topics")).json()["topics"]
        conns = (await c.get("/api/connections")).json()["connections"]
        metrics = parse_metrics((await c.get("/metrics")).text)
    assert topics == [] and conns == []
    assert metrics['chorus_connections{transport="websocket"}'] == 0
    assert metrics['chorus_connections{transport="sse"}'] == 0
    assert metrics["chorus_subscriptions"] == 0
    assert metrics["chorus_topics"] == 0

    # the hub still serves new clients after the churn
    async with await ws_connect(hub.ws(topics=["after.churn"])) as ws:
        assert await recv_frame(ws) == {"type": "subscribed", "topic": "after.churn"}

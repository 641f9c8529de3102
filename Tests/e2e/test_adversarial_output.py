"""Hostile clients against the hub's output side (issue #21, defects 2, 3 and the connection side
of 6): replies and replays that a client does not read stay within max_backlog, closes that wait
on a client that does not read have a deadline, and pattern recovery over many history topics
does not stall an event loop.

Each attack samples the hub's RSS (VmRSS from /proc) while it runs and checks that a bystander
client is still served."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time

import httpx

from conftest import (
    FRAME_TIMEOUT,
    RawWebSocket,
    hs256,
    recv_frame,
    send,
    stats,
    wait_for,
    ws_connect,
)

SECRET = "adversarial-output-secret-0123456789"
PAD = "x" * 60_000                      # 60 KB of data per message: replays are large
HISTORY = {"big": {"history_size": 1000}, "h": {"history_size": 1}}


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


async def sample_rss(hub, seconds: float, attack) -> list[float]:
    """Runs `attack()` for `seconds` while sampling the hub's RSS; returns the samples."""
    samples = [rss_mib(hub.proc.pid)]
    task = asyncio.create_task(attack())
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        samples.append(rss_mib(hub.proc.pid))
    task.cancel()
    with contextlib.suppress(BaseException):
        await task
    samples.append(rss_mib(hub.proc.pid))
    return samples


async def bystander_served(hub) -> None:
    """A fresh client gets its pong promptly."""
    async with await ws_connect(hub.ws()) as ws:
        await send(ws, {"type": "ping", "id": 1, "timestamp": 7})
        assert await recv_frame(ws, timeout=5) == {"type": "pong", "id": 1, "timestamp": 7}


async def write_without_reading(raw: RawWebSocket, frame: bytes, until: float) -> None:
    """Sends `frame` again and again until `until`, never reading; a hub that stops reading
    makes the writes wait, which is the point."""
    while time.monotonic() < until:
        raw.writer.write(frame)
        with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
            await asyncio.wait_for(raw.writer.drain(), 0.5)
        if raw.writer.is_closing():
            return


async def fill_topic(hub, topic: str, count: int) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{hub.port}", timeout=30) as c:
        for i in range(count):
            r = await c.post("/api/publish", json={"topic": topic, "data": {"i": i, "pad": PAD}})
            assert r.status_code == 200, r.text


async def connections(hub) -> int:
    return (await stats(hub))["connections"]["total"]


# --------------------------------------------------------------------------------------------
# Defect 2: replies and replays within max_backlog
# --------------------------------------------------------------------------------------------

async def test_pings_before_auth_from_clients_that_never_read(hub_factory):
    """1 MB-timestamp pings before authenticating (1.17 GB in 3 s before the fix): a hub that
    requires tokens reads frames of at most 16 KiB until one is verified (1009 past it), and
    echoes at most 256 bytes of timestamp."""
    h = hub_factory(["--jwt-secret", SECRET])
    big = RawWebSocket.encode_frame(0x1, json.dumps({"type": "ping", "timestamp": "x" * 1_000_000}).encode())
    small = RawWebSocket.encode_frame(0x1, json.dumps({"type": "ping", "timestamp": "y" * 200}).encode())

    async def attack():
        until = time.monotonic() + 60
        # Few clients: each one's kernel buffers take megabytes before the hub's own memory grows.
        clients = [await RawWebSocket.connect(h, rcvbuf=4096) for _ in range(8)]
        try:
            await asyncio.gather(*(write_without_reading(c, big if i % 2 else small, until) for i, c in enumerate(clients)))
        finally:
            for c in clients:
                c.close_transport()

    rss = await sample_rss(h, 8, attack)
    print("RSS MiB during the attack:", rss)
    # A debug hub echoed pongs to these clients as fast as it could parse the pings (a release
    # build: 1.17 GB in 3 s).
    assert max(rss) - rss[0] < 30, rss
    await bystander_served(h)

    # What such a client gets, when it reads: a refusal, not an echo.
    raw = await RawWebSocket.connect(h)
    try:
        await raw.send_json({"type": "ping", "id": 1, "timestamp": "z" * 300})
        reply = await raw.recv_json()
        assert reply["type"] == "error" and reply["code"] == "bad_request" and "256" in reply["message"], reply
        await raw.send_frame(0x1, big[10:20_000])
        _, code = await raw.recv_until_close(timeout=5)
        assert code == 1009
    finally:
        await raw.aclose()


async def test_resubscribing_from_offset_zero_without_reading(hub_factory):
    """Re-subscribing with `since: {offset: 0}` every 0.1 s to a topic holding 200 × 60 KB,
    never reading (3.6 GB before the fix): replays are paged, written only while the client
    reads, and a new one replaces a pending one."""
    h = hub_factory(["--namespaces", json.dumps(HISTORY)])
    await fill_topic(h, "big.t", 200)
    async with await ws_connect(h.ws()) as ws:
        await send(ws, {"type": "subscribe", "topic": "big.t"})
        epoch = (await recv_frame(ws))["epoch"]

    frame = RawWebSocket.encode_frame(
        0x1, json.dumps({"type": "subscribe", "topic": "big.t", "since": {"offset": 0, "epoch": epoch}}).encode())

    async def attack():
        clients = [await RawWebSocket.connect(h, rcvbuf=4096) for _ in range(10)]
        try:
            while True:
                for c in clients:
                    c.writer.write(frame)
                await asyncio.sleep(0.1)
        finally:
            for c in clients:
                c.close_transport()

    rss = await sample_rss(h, 4, attack)
    print("RSS MiB during the attack:", rss)
    assert max(rss) - rss[0] < 100, rss
    await bystander_served(h)

    # A client that reads still gets the whole replay, in order, after `subscribed`.
    async with await ws_connect(h.ws()) as ws:
        await send(ws, {"type": "subscribe", "topic": "big.t", "since": {"offset": 0, "epoch": epoch}})
        assert (await recv_frame(ws, timeout=10))["recovered"] is True
        offsets = [(await recv_frame(ws, timeout=10))["offset"] for _ in range(200)]
        assert offsets == list(range(1, 201))


async def test_sse_streams_resuming_from_zero_that_never_read(hub_factory):
    """20 SSE streams with `Last-Event-ID: 0` on 200 × 60 KB that never read (1.64 GB for 40
    before the fix): each replay pauses while its stream is not writable."""
    h = hub_factory(["--namespaces", json.dumps(HISTORY)])
    await fill_topic(h, "big.t", 200)

    async def attack():
        socks = []
        try:
            for _ in range(20):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.connect(("127.0.0.1", h.port))
                sock.sendall(b"GET /sse?topic=big.t HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 0\r\n\r\n")
                socks.append(sock)
            await asyncio.sleep(60)
        finally:
            for sock in socks:
                sock.close()

    rss = await sample_rss(h, 4, attack)
    print("RSS MiB during the attack:", rss)
    assert max(rss) - rss[0] < 100, rss
    await bystander_served(h)


# --------------------------------------------------------------------------------------------
# Defect 3: closes that wait on a client that does not read have a deadline
# --------------------------------------------------------------------------------------------

async def test_idle_subscribers_that_stopped_reading_are_closed_and_free_their_slots(hub_factory):
    """5 subscribers that stopped reading with megabytes queued each, idle_timeout 3 s (still
    open 70 s later before the fix, and their address got 429): closed within the close
    deadline, and their per-address slots are free again."""
    h = hub_factory(["--idle-timeout", "3s", "--ping-interval", "1s", "--max-backlog", "32MiB"],
                    env={"CHORUS_MAX_CONNECTIONS_PER_IP": "5"})
    clients = [await RawWebSocket.connect(h, path="/ws?topic=flood", rcvbuf=4096) for _ in range(5)]
    try:
        for c in clients:
            assert c.status == 101
            assert (await c.recv_json())["type"] == "subscribed"
        # ~9 MB each: more than the kernel's socket buffers take.
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{h.port}", timeout=30) as http:
            for i in range(150):
                r = await http.post("/api/publish", json={"topic": "flood", "data": {"i": i, "pad": PAD}})
                assert r.status_code == 200
        assert await connections(h) == 5
        refused = await RawWebSocket.connect(h)
        assert refused.status == 429
        await refused.aclose()
        # idle_timeout (3 s) + the close deadline (2 s) + sweeps; the clients never read.
        await wait_for(lambda: connections_are(h, 0), timeout=9, what="the non-reading subscribers to be closed")
        fresh = await RawWebSocket.connect(h)
        assert fresh.status == 101
        await fresh.aclose()
    finally:
        for c in clients:
            await c.aclose()


async def connections_are(h, n: int) -> bool:
    return await connections(h) == n


async def test_protocol_error_close_to_a_client_that_does_not_read(hub_factory):
    """A client that does not read sends ~6 MB of pings (more pongs than the kernel's buffers
    take), then a frame that breaks the protocol (unmasked). Before the fix the hub answered
    every ping, closed with 1002 and waited forever for that close to be flushed. Now it stops
    reading once the client is behind, so the connection ends at the idle timeout; either way
    the close has a deadline and the connection is gone."""
    h = hub_factory(["--idle-timeout", "2s", "--ping-interval", "1s"])
    raw = await RawWebSocket.connect(h, rcvbuf=4096)
    try:
        ping = RawWebSocket.encode_frame(0x1, json.dumps({"type": "ping", "timestamp": "p" * 200}).encode())
        raw.writer.write(ping * 25_000 + RawWebSocket.encode_frame(0x1, b'{"type":"ping"}', mask=False))
        with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
            await asyncio.wait_for(raw.writer.drain(), 3)
        await wait_for(lambda: connections_are(h, 0), timeout=8, what="the connection to be closed")
        await bystander_served(h)
    finally:
        await raw.aclose()


# --------------------------------------------------------------------------------------------
# Defect 6, the connection side: pattern recovery over many history topics
# --------------------------------------------------------------------------------------------

async def test_pattern_recovery_over_many_topics_does_not_stall_other_clients(hub_factory):
    """`subscribe nomatch.* since {ts}` walked every history topic on the event loop; now it is
    one bounded store query per page on the readers' pool."""
    h = hub_factory(["--namespaces", json.dumps(HISTORY), "--threads", "1", "--max-broadcast-topics", "5000"])
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{h.port}", timeout=120) as http:
        for start in range(0, 20_000, 5_000):
            r = await http.post("/api/broadcast", json={"topics": [f"h.t{i}" for i in range(start, start + 5_000)], "data": 1})
            assert r.status_code == 200, r.text[:200]

    async with await ws_connect(h.ws()) as attacker, await ws_connect(h.ws()) as bystander:
        async def rtt() -> float:
            sent = time.monotonic()
            await send(bystander, {"type": "ping", "id": 1})
            assert (await recv_frame(bystander, timeout=10))["type"] == "pong"
            return time.monotonic() - sent

        quiet = max([await rtt() for _ in range(5)])
        for i in range(10):
            await send(attacker, {"type": "subscribe", "id": i, "topic": f"nomatch{i}.*", "since": {"ts": 0}})
        stalled = max([await rtt() for _ in range(5)])
        answers = [await recv_frame(attacker, timeout=30) for _ in range(10)]
        assert all(a["type"] == "subscribed" and a["recovered"] is True for a in answers), answers[:3]
        assert stalled < max(0.25, 5 * quiet), (quiet, stalled)

        # A pattern that matches them all replays them (and only them), in commit order.
        await send(attacker, {"type": "subscribe", "topic": "h.*", "since": {"ts": 0}})
        assert (await recv_frame(attacker, timeout=30))["type"] == "subscribed"
        first = [await recv_frame(attacker, timeout=30) for _ in range(3)]
        assert [m["topic"] for m in first] == ["h.t0", "h.t1", "h.t2"], first

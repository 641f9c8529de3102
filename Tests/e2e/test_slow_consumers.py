"""Slow consumers (issue #4): 1,000 subscribers read while 50 others never do. The readers'
p99 latency must stay within twice that of a run without the stalled ones, and the hub's
memory must stay bounded (the stalled connections are cut at `max_backlog`, 4008).

The kernel queues a few megabytes per socket before the hub sees a connection stop being
writable, so the stalled subscribers also take a bulk topic (large messages) that fills their
queues within seconds; the readers' topic carries small messages with a send timestamp. Both
phases publish exactly the same; the only difference is the stalled subscribers."""

from __future__ import annotations

import http.client
import json
import multiprocessing as mp
import re
import selectors
import socket
import threading
import time

from conftest import parse_metrics

READERS = 1000
PROBES = 50            # readers that parse every message for its latency; the rest drain
STALLED = 50
RATE = 10              # readers' messages per second
SECONDS = 6
BULK_RATE = 20         # bulk messages per second, ~60 KB each: a stalled queue fills in ~3 s
BULK_PAD = "b" * 60_000
MAX_BACKLOG = 128 * 1024
SENT_AT = re.compile(rb'"t": ?(\d+)')
TOPIC = "slow.fanout"
BULK = "slow.bulk"
HANDSHAKE = ("GET /ws?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")


def open_subscriber(port: int, topics: tuple[str, ...] = (TOPIC,), rcvbuf: int | None = None) -> tuple[socket.socket, bytes]:
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    s.sendall(HANDSHAKE.format(query="&".join(f"topic={t}" for t in topics)).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, rest = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return s, rest


def latencies_in(buffer: bytearray, now: int, out: list[float]) -> None:
    """Consumes the complete frames in ``buffer``; appends each message's latency (ms)."""
    offset = 0
    while len(buffer) - offset >= 2:
        length, header = buffer[offset + 1] & 0x7F, 2
        if length == 126:
            if len(buffer) - offset < 4:
                break
            length, header = int.from_bytes(buffer[offset + 2:offset + 4], "big"), 4
        elif length == 127:
            if len(buffer) - offset < 10:
                break
            length, header = int.from_bytes(buffer[offset + 2:offset + 10], "big"), 10
        if len(buffer) - offset < header + length:
            break
        payload = bytes(buffer[offset + header:offset + header + length])
        sent = SENT_AT.search(payload)
        if sent and b'"type":"message"' in payload:
            out.append((now - int(sent.group(1))) / 1e6)
        offset += header + length
    del buffer[:offset]


def readers(port: int, ready, stop, results) -> None:
    selector = selectors.DefaultSelector()
    buffers = {}
    for index in range(READERS):
        s, rest = open_subscriber(port)
        s.setblocking(False)
        probe = index < PROBES
        buffers[s] = bytearray(rest) if probe else None
        selector.register(s, selectors.EVENT_READ)
    latencies: list[float] = []
    ready.set()
    scratch = bytearray(1 << 16)
    while not stop.is_set():
        for key, _ in selector.select(0.05):
            s = key.fileobj
            buffer = buffers[s]
            if buffer is None:
                s.recv_into(scratch)
                continue
            chunk = s.recv(1 << 16)
            buffer += chunk
            latencies_in(buffer, time.monotonic_ns(), latencies)
    results.put(latencies)
    for s in buffers:
        s.close()


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def run(hub, stalled: int) -> tuple[float, list[int]]:
    """One phase: readers subscribe, ``stalled`` subscribers that never read join, messages go
    out at ``RATE``. Returns the readers' p99 (ms) and the hub's RSS samples (KiB)."""
    context = mp.get_context("fork")
    ready, stop, results = context.Event(), context.Event(), context.Queue()
    process = context.Process(target=readers, args=(hub.port, ready, stop, results))
    process.start()
    assert ready.wait(60), "readers did not connect"
    stuck = [open_subscriber(hub.port, (TOPIC, BULK), rcvbuf=4096)[0] for _ in range(stalled)]
    time.sleep(0.5)
    samples = [rss_kib(hub.proc.pid)]
    bulk = threading.Thread(target=publish, args=(hub.port, BULK, BULK_RATE, lambda n: {"pad": BULK_PAD}))
    bulk.start()
    publish(hub.port, TOPIC, RATE, lambda n: {"t": time.monotonic_ns()},
            each_second=lambda: samples.append(rss_kib(hub.proc.pid)))
    bulk.join()
    time.sleep(0.5)
    stop.set()
    latencies = results.get(timeout=30)
    process.join(10)
    for s in stuck:
        s.close()
    expected = PROBES * RATE * SECONDS
    assert len(latencies) == expected, f"probes got {len(latencies)} of {expected} messages"
    latencies.sort()
    return latencies[int(len(latencies) * 0.99)], samples


def publish(port: int, topic: str, rate: int, data, each_second=None) -> None:
    """Publishes ``data(n)`` to ``topic`` at ``rate`` a second for ``SECONDS`` (HTTP keep-alive)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    start = time.monotonic()
    for n in range(rate * SECONDS):
        time.sleep(max(0.0, start + n / rate - time.monotonic()))
        body = json.dumps({"topic": topic, "data": data(n)})
        connection.request("POST", "/api/publish", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 200, response.read()
        response.read()
        if each_second and n % rate == 0:
            each_second()
    connection.close()


def slow_consumer_disconnects(hub) -> float:
    with hub.http_sync() as client:
        return parse_metrics(client.get("/metrics").text)["chorus_slow_consumer_disconnects_total"]


def test_stalled_subscribers_slow_no_one_and_memory_stays_bounded(hub_factory):
    hub = hub_factory(["--max-backlog", str(MAX_BACKLOG), "--namespaces", "{}"])
    # Latency on a shared two-core machine is noisy: a second pair of runs settles a first
    # comparison spoiled by another process; a real regression fails both.
    for attempt in range(1, 3):
        baseline_p99, _ = run(hub, stalled=0)
        stalled_p99, rss = run(hub, stalled=STALLED)
        print(f"attempt {attempt}: readers' p99 {baseline_p99:.2f} ms alone, {stalled_p99:.2f} ms beside "
              f"{STALLED} stalled; hub RSS KiB during the stalled run: {rss}")
        # Every stalled connection was cut at its backlog, so memory stayed bounded: growth
        # well under what 50 unbounded queues would hold (about 7 MB published to each).
        assert slow_consumer_disconnects(hub) == STALLED * attempt
        assert max(rss) - rss[0] < STALLED * MAX_BACKLOG // 1024 + 32 * 1024, rss
        # Twice the baseline, with 1 ms for the timer granularity of a loaded machine.
        if stalled_p99 <= 2 * baseline_p99 + 1.0:
            break
    assert stalled_p99 <= 2 * baseline_p99 + 1.0, (baseline_p99, stalled_p99)


def test_connections_cut_during_a_fan_out_leave_the_hub_consistent(hub_factory):
    """Connections closed by the fan-out itself (cut at their backlog in the middle of a
    delivery, through an exact and through a wildcard subscription) are unregistered after that
    delivery; the hub keeps serving the others and counts nothing twice."""
    hub = hub_factory(["--max-backlog", str(MAX_BACKLOG), "--namespaces", "{}"])
    stalled = [open_subscriber(hub.port, (topic,), rcvbuf=4096)[0]
               for topic in ("cut.bulk", "cut.*") for _ in range(20)]
    reader, rest = open_subscriber(hub.port, ("cut.*",))
    reader.settimeout(10)
    received = bytearray(rest)
    connection = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=10)

    def post(data) -> None:
        body = json.dumps({"topic": "cut.bulk", "data": data}, separators=(",", ":"))
        connection.request("POST", "/api/publish", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 200, response.read()
        response.read()

    published = 0
    deadline = time.monotonic() + 30
    while slow_consumer_disconnects(hub) < len(stalled):
        assert time.monotonic() < deadline, f"only {slow_consumer_disconnects(hub)} of {len(stalled)} cut"
        post({"n": published, "pad": BULK_PAD})
        published += 1
        while received.count(b'"type":"message"') < published:
            received += reader.recv(1 << 20)
    post({"last": True})
    while b'"last":true' not in received:
        received += reader.recv(1 << 20)

    assert slow_consumer_disconnects(hub) == len(stalled)
    numbers = [int(n) for n in re.findall(rb'"n":(\d+)', bytes(received))]
    assert numbers == list(range(published)), "the reader missed or reordered messages"
    with hub.http_sync() as client:
        metrics = parse_metrics(client.get("/metrics").text)
    assert metrics['chorus_connections{transport="websocket"}'] == 1
    assert metrics["chorus_subscriptions"] == 1
    for s in stalled + [reader]:
        s.close()

#!/usr/bin/env python3
"""First load figures for the hub core (issue "Hub core"); `chorus bench` supersedes it.

  loadtest.py connections --pid PID --port P -n 10000
      Opens N idle WebSocket connections (each subscribed to its own topic) over several
      processes and source addresses 127.0.0.2…, then reports the hub's RSS growth per connection.
  loadtest.py recovery --pid PID --port P -n 10000
      Publishes N messages to a history topic (the hub must keep history for namespace `bench`,
      size ≥ N), then times a raw WebSocket subscribe with `since` from offset 0 until the Nth
      replayed message has arrived.
  loadtest.py fanout --pid PID --port P -n 10000 --seconds 10
      N subscribers of one topic read as fast as they can; one publisher posts over HTTP
      keep-alive flat out. Reports deliveries/s (from the hub's counters and from the bytes the
      subscribers received) and the hub's CPU per delivery.
"""
import argparse, http.client, json, multiprocessing as mp, os, selectors, socket, threading, time

HANDSHAKE = ("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
PER_PROCESS = 5000


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_ws(port, path, source):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    s.sendall(HANDSHAKE.format(path=path).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("closed during handshake")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(head.decode(errors="replace"))
    return s, rest


def frame_header(buffer, offset):
    """(header size, payload length) of the frame at `offset`, or None if its header is incomplete."""
    if len(buffer) - offset < 2:
        return None
    length = buffer[offset + 1] & 0x7F
    if length == 126:
        return (4, int.from_bytes(buffer[offset + 2:offset + 4], "big")) if len(buffer) - offset >= 4 else None
    if length == 127:
        return (10, int.from_bytes(buffer[offset + 2:offset + 10], "big")) if len(buffer) - offset >= 10 else None
    return 2, length


def frame_sizes(buffer):
    """Yields the total size of each complete frame in buffer (for the first frames only)."""
    offset = 0
    while (header := frame_header(buffer, offset)) and offset + sum(header) <= len(buffer):
        yield sum(header)
        offset += sum(header)


def holder(index, count, port, topic, ready, stop, results):
    source = f"127.0.0.{2 + index}"
    sockets = []
    for i in range(count):
        path = "/ws" if topic == "" else f"/ws?topic={topic or f'idle.{index}.{i}'}"
        s, rest = open_ws(port, path, source)
        sockets.append((s, rest))
    ready.put(index)
    if topic is None or topic == "":
        stop.wait()
        results.put((index, 0, 0))
        return
    # Fan-out reader: count bytes; the first frame on each socket is `subscribed`.
    selector = selectors.DefaultSelector()
    skipped = 0
    total = 0
    buffer = bytearray(1 << 16)
    for s, rest in sockets:
        s.setblocking(False)
        selector.register(s, selectors.EVENT_READ)
        total += len(rest)
    subscribed_size = None
    while not stop.is_set():
        for key, _ in selector.select(timeout=0.2):
            try:
                n = key.fileobj.recv_into(buffer)
            except BlockingIOError:
                continue
            if subscribed_size is None and n:
                subscribed_size = next(frame_sizes(bytes(buffer[:n])))
            total += n
    results.put((index, total, (subscribed_size or 0) * len(sockets)))


def start_holders(args, topic):
    processes = (args.n + PER_PROCESS - 1) // PER_PROCESS
    ready, results, stop = mp.Queue(), mp.Queue(), mp.Event()
    workers = []
    for index in range(processes):
        count = min(PER_PROCESS, args.n - index * PER_PROCESS)
        p = mp.Process(target=holder, args=(index, count, args.port, topic, ready, stop, results))
        p.start()
        workers.append(p)
    for _ in workers:
        ready.get(timeout=300)
    return workers, stop, results


def stats(port):
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request("GET", "/api/stats")
    return json.loads(c.getresponse().read())


def connections(args):
    before = rss_kib(args.pid)
    started = time.time()
    workers, stop, results = start_holders(args, "" if args.no_subscribe else None)
    elapsed = time.time() - started
    time.sleep(2)
    after = rss_kib(args.pid)
    open_now = stats(args.port)["connections"]["total"]
    stop.set()
    for p in workers:
        p.join()
    per = (after - before) * 1024 / args.n
    print(json.dumps({"mode": "connections", "connections": args.n, "open_reported_by_hub": open_now,
                      "rss_before_kib": before, "rss_after_kib": after,
                      "bytes_per_connection": round(per), "connect_seconds": round(elapsed, 2)}))


def fanout(args):
    workers, stop, results = start_holders(args, "bench")
    frame = json.dumps({"n": "00000000", "pad": "x" * 64})
    counts = [0] * args.publishers
    start_stats, start_cpu, start = stats(args.port), cpu_seconds(args.pid), time.time()

    def publisher(index):
        conn = http.client.HTTPConnection("127.0.0.1", args.port)
        rate = args.rate / args.publishers if args.rate else 0
        while time.time() - start < args.seconds:
            body = '{"topic":"bench","data":%s}' % frame.replace("00000000", "%08d" % counts[index])
            conn.request("POST", "/api/publish", body, {"Content-Type": "application/json"})
            conn.getresponse().read()
            counts[index] += 1
            if rate:
                time.sleep(max(0, counts[index] / rate - (time.time() - start)))

    threads = [threading.Thread(target=publisher, args=(i,)) for i in range(args.publishers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    published = sum(counts)
    time.sleep(2)  # let the last messages arrive
    end_stats, end_cpu = stats(args.port), cpu_seconds(args.pid)
    elapsed = args.seconds
    stop.set()
    received = 0
    for _ in workers:
        _, total, subscribed = results.get(timeout=60)
        received += total - subscribed
    for p in workers:
        p.join()
    delivered = end_stats["messages"]["delivered"] - start_stats["messages"]["delivered"]
    print(json.dumps({
        "mode": "fanout", "subscribers": args.n, "published": published, "seconds": elapsed,
        "deliveries_reported_by_hub": delivered,
        "deliveries_per_second": round(delivered / elapsed),
        "expected_deliveries": published * args.n,
        "bytes_received": received,
        "hub_cpu_seconds": round(end_cpu - start_cpu, 2),
        "hub_cpu_microseconds_per_delivery": round((end_cpu - start_cpu) / max(delivered, 1) * 1e6, 3),
        "open_connections_after": end_stats["connections"]["total"],
    }))


def recovery(args):
    topic = f"bench:recovery{os.getpid()}"  # a fresh topic per run
    pool = [http.client.HTTPConnection("127.0.0.1", args.port) for _ in range(8)]
    epochs = []

    def publish(index):
        conn = pool[index]
        for i in range(index, args.n, len(pool)):
            conn.request("POST", "/api/publish", '{"topic":"%s","data":{"n":%d}}' % (topic, i), {"Content-Type": "application/json"})
            reply = json.loads(conn.getresponse().read())
            if "epoch" not in reply:
                raise RuntimeError(f"the hub keeps no history for {topic}: {reply}")
            epochs.append(reply["epoch"])

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(len(pool))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s, rest = open_ws(args.port, "/ws", "127.0.0.1")
    frame = json.dumps({"type": "subscribe", "topic": topic, "since": {"offset": 0, "epoch": epochs[0]}}).encode()
    mask = b"\x01\x02\x03\x04"
    header = bytes([0x81, 0x80 | 126]) + len(frame).to_bytes(2, "big") if len(frame) >= 126 else bytes([0x81, 0x80 | len(frame)])
    started = time.perf_counter()
    s.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(frame)))
    buffer = bytearray(rest)
    frames, first, offset = 0, None, 0
    while frames < args.n + 1:  # `subscribed`, then N messages
        chunk = s.recv(1 << 20)
        if not chunk:
            raise RuntimeError("connection closed during recovery")
        buffer += chunk
        while (header := frame_header(buffer, offset)) and offset + sum(header) <= len(buffer):
            header_size, length = header
            if first is None:
                first = json.loads(bytes(buffer[offset + header_size:offset + header_size + length]))
            offset += header_size + length
            frames += 1
    elapsed = time.perf_counter() - started
    last = json.loads(bytes(buffer[offset - length:offset]))
    print(json.dumps({"mode": "recovery", "messages": args.n, "subscribed": first, "last_offset": last.get("offset"),
                      "milliseconds": round(elapsed * 1000, 1)}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["connections", "fanout", "recovery"])
    parser.add_argument("--pid", type=int, required=True, help="the hub's process id (for RSS and CPU)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("-n", type=int, default=10000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=0, help="messages per second in all (0: flat out)")
    parser.add_argument("--no-subscribe", action="store_true", help="connections mode: connect without subscribing")
    parser.add_argument("--publishers", type=int, default=8, help="concurrent HTTP publishers (keep-alive connections)")
    args = parser.parse_args()
    {"connections": connections, "fanout": fanout, "recovery": recovery}[args.mode](args)

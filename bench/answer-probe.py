#!/usr/bin/env python3
"""How long a publish waits for its answer, over HTTP and over WebSocket, side by side.

    python3 bench/answer-probe.py PORT SECONDS

Every 100 ms, alternately, one `POST /api/publish` on a keep-alive connection and one WebSocket
`publish` frame (answered by `ack`), both to topic `probe:x` of the hub on 127.0.0.1:PORT
(development mode: no credentials). Prints p50/p90/p99/max of each. Run it beside a load (for
example `chorus bench fanout ... --rate 10`) to see what the load does to each path's answer.
Needs `websockets` (Tests/e2e/requirements.txt).
"""
import asyncio
import json
import sys
import time

import websockets


async def main(port: int, seconds: float) -> None:
    ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws", max_size=None)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    body = json.dumps({"topic": "probe:x", "data": {"a": 1}}).encode()
    request = (f"POST /api/publish HTTP/1.1\r\nHost: probe\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    http, frames = [], []
    deadline = time.monotonic() + seconds
    sent = 0
    while time.monotonic() < deadline:
        start = time.perf_counter()
        if sent % 2 == 0:
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
            await reader.readexactly(length)
            http.append((time.perf_counter() - start) * 1000)
        else:
            await ws.send(json.dumps({"type": "publish", "id": str(sent), "topic": "probe:x", "data": {"a": 1}}))
            while json.loads(await ws.recv()).get("id") != str(sent):
                pass
            frames.append((time.perf_counter() - start) * 1000)
        sent += 1
        await asyncio.sleep(0.1)
    await ws.close()
    writer.close()
    for name, times in (("http", http), ("websocket", frames)):
        times.sort()
        pick = lambda q: times[min(len(times) - 1, int(len(times) * q))]
        print(f"{name}: n={len(times)} p50={pick(0.5):.2f} p90={pick(0.9):.2f} p99={pick(0.99):.2f} max={times[-1]:.2f} ms")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))

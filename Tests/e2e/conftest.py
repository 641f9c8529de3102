"""Shared machinery for the Chorus end-to-end tests.

Every test talks to a real `chorus serve` process over the network. This module provides:

* ``Hub``: starts the binary on ``--port 0`` with chosen flags / environment / working
  directory, waits for the ``Chorus hub listening on 127.0.0.1:<port>`` line, and stops the
  process it started (by pid: SIGTERM, wait, then SIGKILL).
* fixtures: ``hub`` (a module-scoped development hub) and ``hub_factory`` (custom hubs,
  stopped at the end of the test).
* async helpers: ``ws_connect``, ``send``, ``recv_frame``, ``recv_type``,
  ``recv_until_closed``, an SSE reader and a raw-socket WebSocket client (``RawWebSocket``)
  for what a well-behaved client library will not do (unmasked frames, never reading,
  observing ping frames, oversized frames).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Iterable, Mapping, Sequence
from urllib.parse import urlencode

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection, connect as _ws_connect

DEFAULT_BIN = "/work/main/.build/debug/chorus"
LISTEN_RE = re.compile(r"Chorus hub listening on (\S+):(\d+)")

# Timeouts used across the suite (seconds). Generous enough for a debug build on two cores,
# short enough to keep failures fast.
FRAME_TIMEOUT = 3.0
START_TIMEOUT = 20.0


def chorus_bin() -> str:
    return os.environ.get("CHORUS_BIN") or DEFAULT_BIN


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without any CHORUS_* variable (so nothing leaks into a
    hub by accident), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHORUS_")}
    if extra:
        env.update(extra)
    return env


def run_cli(*args: str, env: Mapping[str, str] | None = None, cwd: str | os.PathLike | None = None,
            timeout: float = 20.0) -> subprocess.CompletedProcess:
    """Run ``chorus <args>`` to completion (for commands that exit: token, help, bad configs)."""
    if cwd is None:
        cwd = tempfile.mkdtemp(prefix="chorus-cli-")
    return subprocess.run(
        [chorus_bin(), *args], capture_output=True, text=True, timeout=timeout,
        env=clean_env(env), cwd=cwd,
    )


# --------------------------------------------------------------------------------------------
# Hub process
# --------------------------------------------------------------------------------------------

class HubStartError(RuntimeError):
    pass


# The suite opens many connections from 127.0.0.1 in quick succession, so its hubs run with
# the per-address, per-user and rate limits lifted (0 = unlimited); the tests of the limits
# themselves ask for ``default_limits=True`` or set the limit they test.
LIFTED_LIMITS = {
    "CHORUS_MAX_CONNECTIONS_PER_IP": "0",
    "CHORUS_MAX_CONNECTIONS_PER_USER": "0",
    "CHORUS_MAX_CONNECT_RATE_PER_IP": "0",
    "CHORUS_MAX_PUBLISH_RATE_PER_CONNECTION": "0",
    "CHORUS_MAX_SUBSCRIBE_RATE_PER_CONNECTION": "0",
    "CHORUS_MAX_API_RATE_PER_KEY": "0",
}


class Hub:
    """One ``chorus serve`` process started by the tests."""

    def __init__(self, args: Sequence[str] = (), env: Mapping[str, str] | None = None,
                 cwd: str | os.PathLike | None = None, *, port_flag: bool = True,
                 start_timeout: float = START_TIMEOUT, default_limits: bool = False,
                 binary: str | os.PathLike | None = None):
        self.binary = str(binary) if binary is not None else None
        self.args = list(args)
        self.env = {**({} if default_limits else LIFTED_LIMITS), **(env or {})}
        self._own_cwd = cwd is None
        self.cwd = str(cwd) if cwd is not None else tempfile.mkdtemp(prefix="chorus-hub-")
        self.port_flag = port_flag
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.listen_host: str | None = None
        self.died_unexpectedly: int | None = None   # exit status when it died before stop()
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._listening = threading.Event()
        self._reader: threading.Thread | None = None
        self._stdout_reader: threading.Thread | None = None
        self._stdout: list[str] = []

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> "Hub":
        argv = [self.binary or chorus_bin(), "serve"]
        if self.port_flag:
            argv += ["--port", "0"]
        argv += self.args
        self.proc = subprocess.Popen(
            argv, cwd=self.cwd, env=clean_env(self.env), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
        )
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        self._stdout_reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._stdout_reader.start()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._listening.wait(0.05):
                return self
            if self.proc.poll() is not None:
                self._reader.join(2)
                raise HubStartError(
                    f"hub exited with {self.proc.returncode} before listening; argv={argv}\n"
                    f"stderr:\n{self.stderr}")
        self.kill()
        raise HubStartError(f"hub did not log its listening line within {self.start_timeout}s; "
                            f"argv={argv}\nstderr:\n{self.stderr}")

    def _read_stderr(self) -> None:
        assert self.proc and self.proc.stderr
        for line in self.proc.stderr:
            with self._lock:
                self._lines.append(line)
            m = LISTEN_RE.search(line)
            if m and self.port is None:
                self.listen_host = m.group(1)
                self.port = int(m.group(2))
                self._listening.set()

    def _read_stdout(self) -> None:
        assert self.proc and self.proc.stdout
        for line in self.proc.stdout:
            with self._lock:
                self._stdout.append(line)

    @property
    def stderr(self) -> str:
        with self._lock:
            return "".join(self._lines)

    @property
    def pid(self) -> int:
        assert self.proc
        return self.proc.pid

    def signal(self, sig: int) -> None:
        assert self.proc
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def wait(self, timeout: float) -> int:
        assert self.proc
        return self.proc.wait(timeout)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None and self.proc.returncode != 0 and self.died_unexpectedly is None:
            self.died_unexpectedly = self.proc.returncode
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._reader:
            self._reader.join(2)
        if self._stdout_reader:
            self._stdout_reader.join(2)
        if self._own_cwd:
            shutil.rmtree(self.cwd, ignore_errors=True)
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(5)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- addresses -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def ws(self, *, topics: Iterable[str] = (), token: str | None = None, **query: Any) -> str:
        params: list[tuple[str, str]] = [("topic", t) for t in topics]
        if token is not None:
            params.append(("token", token))
        params += [(k, str(v)) for k, v in query.items()]
        return self.ws_url + ("?" + urlencode(params) if params else "")

    def sse(self, *, topics: Iterable[str] = (), token: str | None = None) -> str:
        params: list[tuple[str, str]] = [("topic", t) for t in topics]
        if token is not None:
            params.append(("token", token))
        return f"{self.url}/sse" + ("?" + urlencode(params) if params else "")

    def http(self, **kwargs: Any) -> httpx.AsyncClient:
        kwargs.setdefault("timeout", 10.0)
        return httpx.AsyncClient(base_url=self.url, **kwargs)

    def http_sync(self, **kwargs: Any) -> httpx.Client:
        kwargs.setdefault("timeout", 10.0)
        return httpx.Client(base_url=self.url, **kwargs)

    def __repr__(self) -> str:
        return f"<Hub pid={self.proc.pid if self.proc else None} port={self.port} args={self.args}>"


@pytest.fixture(scope="module")
def hub() -> Iterable[Hub]:
    """A development hub (no keys) shared by the tests of one module."""
    h = Hub().start()
    yield h
    h.stop()
    report_crash(h)


@pytest.fixture
def hub_factory() -> Iterable:
    """``hub_factory(args=[...], env={...}, cwd=...)`` starts a custom hub, stopped after the test."""
    hubs: list[Hub] = []

    def make(args: Sequence[str] = (), env: Mapping[str, str] | None = None,
             cwd: str | os.PathLike | None = None, **kw: Any) -> Hub:
        h = Hub(args, env, cwd, **kw)
        hubs.append(h)
        return h.start()

    yield make
    for h in hubs:
        h.stop()
        report_crash(h)


def report_crash(h: Hub) -> None:
    """Print (into the test's captured output) the stderr of a hub that died on its own."""
    if h.died_unexpectedly is not None:
        print(f"\n*** hub {h!r} died with status {h.died_unexpectedly} during the test; stderr:\n"
              f"{h.stderr[:6000]}")


# --------------------------------------------------------------------------------------------
# WebSocket helpers (websockets library)
# --------------------------------------------------------------------------------------------

async def ws_connect(url: str, *, headers: Mapping[str, str] | None = None,
                     max_size: int | None = 16 * 1024 * 1024, **kw: Any) -> ClientConnection:
    """Open a WebSocket. Keeps the library's own keep-alive pings off so they never interfere."""
    return await asyncio.wait_for(
        _ws_connect(url, additional_headers=headers, max_size=max_size, ping_interval=None,
                    open_timeout=FRAME_TIMEOUT, close_timeout=2, **kw),
        FRAME_TIMEOUT + 1)


async def _within(awaitable, timeout: float, message: str):
    """``await awaitable`` or fail the test with ``message`` after ``timeout`` seconds (without
    the chained CancelledError/TimeoutError noise in the report)."""
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:
        timed_out = True
    if timed_out:
        pytest.fail(message, pytrace=True)


async def ws_connect_as(url: str, token: str, user: str, *, via: str = "header", **kw: Any) -> ClientConnection:
    """Connect with a token (``via`` "header" or "query") and consume the ``auth_success`` frame
    the hub sends first, checking that it names ``user``."""
    if via == "header":
        ws = await ws_connect(url, headers=bearer(token), **kw)
    else:
        sep = "&" if "?" in url else "?"
        ws = await ws_connect(f"{url}{sep}token={token}", **kw)
    frame = await recv_frame(ws)
    assert frame.get("type") == "auth_success" and frame.get("user") == user, frame
    assert isinstance(frame.get("client"), str) and frame["client"], frame
    return ws


async def send(ws: ClientConnection, frame: Mapping[str, Any] | str) -> None:
    await ws.send(frame if isinstance(frame, str) else json.dumps(frame))


async def recv_frame(ws: ClientConnection, timeout: float = FRAME_TIMEOUT) -> dict:
    """The next frame, parsed. Fails the test on a timeout or a non-JSON frame."""
    raw = await _within(ws.recv(), timeout, f"no frame within {timeout}s")
    assert isinstance(raw, str), f"hub sent a binary frame: {raw!r}"
    frame = json.loads(raw)
    assert isinstance(frame, dict), f"frame is not a JSON object: {raw}"
    return frame


async def recv_type(ws: ClientConnection, type_: str, timeout: float = FRAME_TIMEOUT) -> dict:
    """Skip frames until one of ``type_`` arrives (within ``timeout`` overall)."""
    deadline = asyncio.get_running_loop().time() + timeout
    skipped = []
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            pytest.fail(f"no {type_!r} frame within {timeout}s; skipped {skipped}")
        frame = await recv_frame(ws, left)
        if frame.get("type") == type_:
            return frame
        skipped.append(frame)


async def roundtrip(ws: ClientConnection, frame: Mapping[str, Any], timeout: float = FRAME_TIMEOUT) -> dict:
    """Send a frame and return the next frame (the reply)."""
    await send(ws, frame)
    return await recv_frame(ws, timeout)


async def subscribe(ws: ClientConnection, topic: str, id_: Any = None) -> dict:
    frame: dict[str, Any] = {"type": "subscribe", "topic": topic}
    if id_ is not None:
        frame["id"] = id_
    reply = await roundtrip(ws, frame)
    assert reply["type"] == "subscribed" and reply["topic"] == topic, reply
    return reply


async def recv_until_closed(ws: ClientConnection, timeout: float = FRAME_TIMEOUT) -> tuple[list[dict], int | None, str | None]:
    """Read frames until the hub closes the connection. Returns (frames, close code, reason)."""
    frames: list[dict] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            pytest.fail(f"connection still open after {timeout}s; frames so far: {frames}")
        try:
            raw = await asyncio.wait_for(ws.recv(), left)
        except websockets.ConnectionClosed as e:
            rcvd = e.rcvd
            return frames, (rcvd.code if rcvd else None), (rcvd.reason if rcvd else None)
        except asyncio.TimeoutError:
            continue
        frames.append(json.loads(raw) if isinstance(raw, str) else {"binary": raw})


async def settle(*tasks: asyncio.Task) -> None:
    """Cancel what is still running and retrieve every outcome, so that no task is left with an
    unretrieved exception (whose finalizer would log from inside the garbage collector)."""
    for t in tasks:
        if not t.done():
            t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def flood_and_check_fast_reader(pub: ClientConnection, fast: ClientConnection, topic: str,
                                      total: int, pad: str) -> None:
    """Publishes `total` padded messages from `pub` without waiting for acks, and asserts that every
    ack arrives and that the reading subscriber `fast` gets every message, in order."""
    async def publish_all():
        for seq in range(total):
            await pub.send(json.dumps({"type": "publish", "topic": topic, "data": {"seq": seq, "pad": pad}}))

    async def read_fast():
        return [(await recv_frame(fast, timeout=30))["data"]["seq"] for _ in range(total)]

    async def read_acks():
        return [(await recv_frame(pub, timeout=30))["type"] for _ in range(total)]

    fast_task, ack_task = asyncio.create_task(read_fast()), asyncio.create_task(read_acks())
    try:
        await asyncio.wait_for(publish_all(), 60)
        assert await asyncio.wait_for(ack_task, 60) == ["ack"] * total
        assert await asyncio.wait_for(fast_task, 60) == list(range(total))
    finally:
        await settle(fast_task, ack_task)


async def wait_for(predicate, timeout: float = 5.0, interval: float = 0.05, what: str = "condition"):
    """Poll an async or sync predicate until it returns a truthy value; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


async def http_publish(hub: Hub, topic: str, data: Any, event: str | None = None,
                       headers: Mapping[str, str] | None = None) -> str:
    body: dict[str, Any] = {"topic": topic, "data": data}
    if event is not None:
        body["event"] = event
    async with hub.http() as c:
        r = await c.post("/api/publish", json=body, headers=headers)
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()["message_id"]


def parse_metrics(text: str) -> dict[str, float]:
    """``{'name{labels}': value}`` for every sample line of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)$", line)
        assert m, f"not a Prometheus sample line: {line!r}"
        out[m.group(1)] = float(m.group(2))
    return out


async def stats(hub: Hub) -> dict:
    async with hub.http() as c:
        r = await c.get("/api/stats")
    assert r.status_code == 200, r.text
    return r.json()


# --------------------------------------------------------------------------------------------
# SSE
# --------------------------------------------------------------------------------------------

@dataclass
class SSEEvent:
    id: str | None = None
    event: str | None = None
    data: str = ""
    comments: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.data)


class SSEStream:
    """A parsed text/event-stream: ``next_event()`` returns the next dispatched event; comment
    lines are collected in ``comments`` (and returned by ``next_comment()``)."""

    def __init__(self, response: httpx.Response):
        self.response = response
        self._lines = response.aiter_lines()
        self.comments: asyncio.Queue[str] = asyncio.Queue()
        self.events: asyncio.Queue[SSEEvent | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        current = SSEEvent()
        has_field = False
        try:
            async for line in self._lines:
                if line == "":
                    if has_field:
                        await self.events.put(current)
                    current, has_field = SSEEvent(), False
                    continue
                if line.startswith(":"):
                    await self.comments.put(line[1:].strip())
                    continue
                name, _, value = line.partition(":")
                if value.startswith(" "):
                    value = value[1:]
                has_field = True
                if name == "id":
                    current.id = value
                elif name == "event":
                    current.event = value
                elif name == "data":
                    current.data = value if not current.data else current.data + "\n" + value
        except (httpx.HTTPError, asyncio.CancelledError):
            pass
        finally:
            await self.events.put(None)  # end of stream

    async def next_event(self, timeout: float = FRAME_TIMEOUT) -> SSEEvent:
        ev = await _within(self.events.get(), timeout, f"no SSE event within {timeout}s")
        assert ev is not None, "SSE stream ended"
        return ev

    async def next_comment(self, timeout: float = FRAME_TIMEOUT) -> str:
        return await _within(self.comments.get(), timeout, f"no SSE comment within {timeout}s")

    async def wait_end(self, timeout: float = FRAME_TIMEOUT) -> list[SSEEvent]:
        """Collect events until the stream ends."""
        got = []
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                pytest.fail(f"SSE stream did not end within {timeout}s; events: {got}")
            try:
                ev = await asyncio.wait_for(self.events.get(), left)
            except asyncio.TimeoutError:
                continue
            if ev is None:
                return got
            got.append(ev)

    async def aclose(self) -> None:
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task
        await self.response.aclose()


@contextlib.asynccontextmanager
async def sse_connect(hub: Hub, *, topics: Iterable[str] = (), token: str | None = None,
                      headers: Mapping[str, str] | None = None,
                      cookies: Mapping[str, str] | None = None) -> AsyncIterator[SSEStream]:
    """Open an SSE stream (asserting 200). Yields an ``SSEStream``."""
    client = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None), cookies=cookies)
    try:
        req = client.build_request("GET", hub.sse(topics=topics, token=token), headers=headers)
        resp = await client.send(req, stream=True)
        if resp.status_code != 200:
            body = await resp.aread()
            await resp.aclose()
            pytest.fail(f"SSE connect answered {resp.status_code}: {body!r}")
        stream = SSEStream(resp)
        try:
            yield stream
        finally:
            await stream.aclose()
    finally:
        await client.aclose()


# --------------------------------------------------------------------------------------------
# Raw-socket WebSocket client
# --------------------------------------------------------------------------------------------

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class RawWebSocket:
    """A minimal WebSocket client over a plain TCP socket: it sends exactly the bytes it is told
    to (masked or not, any opcode, any length) and never answers pings by itself."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 status: int, headers: dict[str, str], leftover: bytes = b""):
        self.reader = reader
        self.writer = writer
        self.status = status
        self.headers = headers
        self._buf = bytearray(leftover)

    @classmethod
    async def connect(cls, hub: Hub, path: str = "/ws", headers: Mapping[str, str] | None = None,
                      timeout: float = FRAME_TIMEOUT, rcvbuf: int | None = None,
                      source: str | None = None) -> "RawWebSocket":
        """``source``: the local address to connect from (127.0.0.2, …), for per-address limits."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if source is not None:
            sock.bind((source, 0))
        sock.setblocking(False)
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", hub.port)), timeout)
        reader, writer = await asyncio.open_connection(sock=sock)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{hub.port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        hdrs = {}
        for line in header_lines:
            if ":" in line:
                k, v = line.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
        return cls(reader, writer, status, hdrs)

    # -- sending ---------------------------------------------------------------------------

    @staticmethod
    def encode_frame(opcode: int, payload: bytes, *, mask: bool = True, fin: bool = True) -> bytes:
        head = bytearray([(0x80 if fin else 0) | opcode])
        mbit = 0x80 if mask else 0
        n = len(payload)
        if n < 126:
            head.append(mbit | n)
        elif n < 65536:
            head.append(mbit | 126)
            head += struct.pack("!H", n)
        else:
            head.append(mbit | 127)
            head += struct.pack("!Q", n)
        if mask:
            key = os.urandom(4)
            head += key
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if n < 4096 else _mask_fast(payload, key)
        return bytes(head) + payload

    async def send_frame(self, opcode: int, payload: bytes, *, mask: bool = True, fin: bool = True) -> None:
        self.writer.write(self.encode_frame(opcode, payload, mask=mask, fin=fin))
        await self.writer.drain()

    async def send_json(self, frame: Mapping[str, Any], **kw: Any) -> None:
        await self.send_frame(OP_TEXT, json.dumps(frame).encode(), **kw)

    async def send_close(self, code: int = 1000, reason: str = "") -> None:
        await self.send_frame(OP_CLOSE, struct.pack("!H", code) + reason.encode())

    # -- receiving -------------------------------------------------------------------------

    async def _read_exact(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = await self.reader.read(65536)
            if not chunk:
                raise ConnectionError("connection closed by the hub")
            self._buf += chunk
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    async def recv_raw_frame(self, timeout: float = FRAME_TIMEOUT) -> tuple[int, bytes]:
        """One frame from the wire: (opcode, payload). Raises ConnectionError on EOF."""
        async def read() -> tuple[int, bytes]:
            b0, b1 = await self._read_exact(2)
            opcode = b0 & 0x0F
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", await self._read_exact(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", await self._read_exact(8))
            key = await self._read_exact(4) if b1 & 0x80 else None
            payload = await self._read_exact(n)
            if key:
                payload = _mask_fast(payload, key)
            return opcode, payload
        return await _within(read(), timeout, f"no WebSocket frame within {timeout}s")

    async def recv_json(self, timeout: float = FRAME_TIMEOUT) -> dict:
        """Next text frame as JSON (skips ping/pong control frames)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            opcode, payload = await self.recv_raw_frame(max(0.01, deadline - asyncio.get_running_loop().time()))
            if opcode in (OP_PING, OP_PONG):
                continue
            assert opcode == OP_TEXT, f"expected a text frame, got opcode {opcode}: {payload[:200]!r}"
            return json.loads(payload)

    async def recv_until_close(self, timeout: float = FRAME_TIMEOUT) -> tuple[list[tuple[int, bytes]], int | None]:
        """Frames until a close frame (returns its code) or EOF (code None)."""
        frames: list[tuple[int, bytes]] = []
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                pytest.fail(f"no close within {timeout}s; frames: {frames[:10]}")
            try:
                opcode, payload = await self.recv_raw_frame(left)
            except (ConnectionError, asyncio.IncompleteReadError):
                return frames, None
            if opcode == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                return frames, code
            frames.append((opcode, payload))

    async def at_eof(self, timeout: float = FRAME_TIMEOUT) -> bool:
        """True when the hub closes the TCP connection within ``timeout``."""
        try:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
        except asyncio.TimeoutError:
            return False
        except ConnectionError:
            return True
        return data == b""

    def close_transport(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()

    async def aclose(self) -> None:
        self.close_transport()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), 2)


def _mask_fast(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    k = int.from_bytes((key * (n // 4 + 1))[:n], "big") if n else 0
    return (int.from_bytes(payload, "big") ^ k).to_bytes(n, "big") if n else b""


# --------------------------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------------------------

# HS256 secrets of at least 32 bytes (RFC 7518 section 3.2 asks for a key as large as the hash).
SECRET = "chorus-e2e-secret-0123456789abcdef"
OTHER_SECRET = "another-secret-0123456789abcdef-xyz"


def hs256(secret: str, user: str | None = "alice", ttl: float | None = 3600, **claims: Any) -> str:
    import jwt
    payload: dict[str, Any] = {}
    if user is not None:
        payload["sub"] = user
    if ttl is not None:
        payload["exp"] = int(time.time() + ttl)
    payload.update(claims)
    return jwt.encode(payload, secret, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tmp_cwd(tmp_path: Path) -> Path:
    return tmp_path


# --------------------------------------------------------------------------------------------
# Restartable hubs (history and recovery tests)
# --------------------------------------------------------------------------------------------

def free_port() -> int:
    """A TCP port that was free a moment ago (for hubs that must come back on the same port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RestartableHub:
    """A hub that can be stopped or killed (SIGKILL) and started again with the same flags, on
    the same explicit ``--port`` and in the same working directory (so the same ``--data-dir``,
    relative or absolute). ``hub`` is the current process (a ``Hub``)."""

    def __init__(self, args: Sequence[str], cwd: str | os.PathLike, env: Mapping[str, str] | None = None,
                 port: int | None = None):
        self.args = list(args)
        self.cwd = str(cwd)
        self.env = dict(env or {})
        self.port = port or free_port()
        self.hubs: list[Hub] = []
        self.killed: set[int] = set()     # ids of the Hubs killed on purpose

    @property
    def hub(self) -> Hub:
        assert self.hubs, "not started"
        return self.hubs[-1]

    def start(self, extra_args: Sequence[str] = ()) -> Hub:
        h = Hub([*self.args, *extra_args, "--port", str(self.port)], self.env, self.cwd, port_flag=False)
        self.hubs.append(h)
        h.start()
        assert h.port == self.port, (h.port, self.port)
        return h

    def kill9(self) -> None:
        """SIGKILL the current process (no chance to flush or close anything) and reap it."""
        h = self.hub
        self.killed.add(id(h))
        h.kill()
        h.stop()

    def stop(self) -> int | None:
        """Graceful stop (SIGTERM); returns the exit status."""
        return self.hub.stop()

    def close(self) -> None:
        for h in self.hubs:
            h.stop()
            if id(h) not in self.killed:
                report_crash(h)


@pytest.fixture
def restartable_hub() -> Iterable:
    """``restartable_hub(args=[...], cwd=path)`` returns a ``RestartableHub`` (not started yet);
    every process it started is stopped at the end of the test."""
    made: list[RestartableHub] = []

    def make(args: Sequence[str] = (), cwd: str | os.PathLike | None = None,
             env: Mapping[str, str] | None = None) -> RestartableHub:
        r = RestartableHub(args, cwd or tempfile.mkdtemp(prefix="chorus-hub-"), env)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


# --------------------------------------------------------------------------------------------
# Throwaway PostgreSQL and Redis (cluster tests)
# --------------------------------------------------------------------------------------------

def _postgres_bin() -> Path:
    """``CHORUS_PG_BIN``, else the newest /usr/lib/postgresql/N/bin (Debian keeps the server tools
    off PATH), else the PATH entry with ``pg_ctl``."""
    if os.environ.get("CHORUS_PG_BIN"):
        return Path(os.environ["CHORUS_PG_BIN"])
    versions = sorted((p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()),
                      key=lambda p: int(p.parent.name), reverse=True)
    for candidate in versions:
        if (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise RuntimeError("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl, no pg_ctl on PATH): "
                       "scripts/test installs it")


def _gone(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie nobody reaped yet counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


class PostgresServer:
    """A PostgreSQL cluster in a temporary directory, on a free loopback port, run as ``nobody``
    when the tests run as root (PostgreSQL refuses root). ``stop()``/``start()`` for outages,
    ``kill()`` for a crash; ``close()`` stops it by pid and removes the directory."""

    user = "postgres"

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        self.dir = tempfile.mkdtemp(prefix="chorus-pg-")
        self.port = free_port()
        if os.geteuid() == 0:
            import pwd
            nobody = pwd.getpwnam("nobody")
            os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)
        self._as_owner("initdb", "-D", self.data, "-U", self.user, "-A", "trust", "--no-sync", "-E", "UTF8")

    @property
    def data(self) -> str:
        return os.path.join(self.dir, "data")

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs."""
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (FileNotFoundError, ValueError):
            return None

    @property
    def url(self) -> str:
        """The ``postgres_url`` of its default database (``postgres``)."""
        return self.database_url("postgres")

    def database_url(self, database: str) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{database}?sslmode=disable"

    def _as_owner(self, tool: str, *args: str) -> None:
        argv = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "nobody", "--", *argv]
        # Output to a file: the postmaster pg_ctl leaves running must not hold a pipe open.
        with tempfile.TemporaryFile() as out:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, timeout=90)
            out.seek(0)
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {out.read().decode(errors='replace')}")

    def start(self) -> "PostgresServer":
        """Starts it (again) on the same port and data; returns once it accepts connections."""
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        self._as_owner("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w", "-t", "60", "-o", options, "start")
        return self

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _gone(pid):
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Fast shutdown (open connections are closed) by the postmaster's pid; waits until it is gone."""
        pid = self.pid
        if pid is None or _gone(pid):
            return
        os.kill(pid, signal.SIGINT)
        if not self._wait_gone(pid, 30):
            os.kill(pid, signal.SIGKILL)
            self._wait_gone(pid, 5)

    def kill(self) -> None:
        """SIGKILL the postmaster (a crash); waits until it and its backends are gone."""
        pid = self.pid
        if pid is None or _gone(pid):
            return
        children = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _parent(int(p.name)) == pid]
        os.kill(pid, signal.SIGKILL)
        for child in [pid, *children]:
            self._wait_gone(child, 10)
        # Lock files left behind by the crash name its pid, which an unreaped (zombie) postmaster
        # keeps alive in PostgreSQL's eyes: remove them so start() works.
        for stale in (os.path.join(self.data, "postmaster.pid"), os.path.join(self.dir, f".s.PGSQL.{self.port}.lock")):
            with contextlib.suppress(FileNotFoundError):
                os.remove(stale)

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Runs SQL with psql; its unaligned, tuples-only output, stripped."""
        done = subprocess.run([str(self.bin / "psql"), "-X", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                               "-d", database, "-v", "ON_ERROR_STOP=1", "-A", "-t", "-c", sql],
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr}")
        return done.stdout.strip()

    def create_database(self, name: str) -> str:
        """An empty database; returns its URL."""
        self.psql(f"CREATE DATABASE {name}")
        return self.database_url(name)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _parent(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, ValueError, IndexError):
        return None


class RedisServer:
    """``redis-server`` in a temporary directory on a free loopback port, a child of the test
    (stopped by pid). ``args`` add to the command line, e.g. ``["--appendonly", "yes"]``;
    without them nothing is persisted. ``stop()``/``start()`` keep the port and directory."""

    def __init__(self, args: Sequence[str] = ()) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise RuntimeError("redis-server is not installed: scripts/test installs it")
        self.args = list(args)
        self.dir = tempfile.mkdtemp(prefix="chorus-redis-")
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc and self.proc.poll() is None else None

    def start(self) -> "RedisServer":
        """Starts it (again); returns once it answers PING."""
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                "--save", "", "--appendonly", "no", "--daemonize", "no", *self.args]
        self.log = open(os.path.join(self.dir, "log"), "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}: "
                                   f"{Path(self.dir, 'log').read_text(errors='replace')[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("redis-server did not answer PING within 20s")

    def _end(self, sig: int) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc and getattr(self, "log", None):
            self.log.close()

    def stop(self) -> None:
        """SIGTERM (Redis saves first when persistence is on) and wait."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: nothing is saved."""
        self._end(signal.SIGKILL)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def postgres_server() -> Iterable[PostgresServer]:
    """A started PostgreSQL (``url``, ``database_url()``, ``port``, ``pid``, ``stop()``, ``start()``, ``kill()``, ``psql()``,
    ``create_database()``), stopped by pid and removed after the test."""
    server = PostgresServer()
    try:
        yield server.start()
    finally:
        server.close()


@pytest.fixture
def redis_server() -> Iterable[RedisServer]:
    """A started Redis without persistence (``url``, ``port``, ``stop()``, ``start()``, ``kill()``);
    for other settings make a ``RedisServer(args)`` and ``close()`` it."""
    server = RedisServer()
    try:
        yield server.start()
    finally:
        server.close()

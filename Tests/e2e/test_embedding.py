"""Chorus as a library: the embedding example (Examples/EmbeddedChorus, docs/embedding.md) mounts
the hub in an application's own Hummingbird application and ServiceGroup, on one port with the
application's own route. And `chorus serve` keeps the defaults the library no longer has."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import (START_TIMEOUT, Hub, chorus_bin, clean_env, free_port, recv_type, recv_until_closed,
                      roundtrip, run_cli, sse_connect, ws_connect)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "Examples/EmbeddedChorus/main.swift"


class EmbeddedApp(Hub):
    """The example application's process; it reads its port from PORT. The URL helpers are the hub's."""

    def start(self) -> "EmbeddedApp":
        self.port = free_port()
        binary = Path(chorus_bin()).parent / "EmbeddedChorus"
        self.proc = subprocess.Popen(
            [str(binary)], cwd=self.cwd, env=clean_env({"PORT": str(self.port)}), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
        )
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        self._stdout_reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._stdout_reader.start()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"the example exited with {self.proc.returncode}: {self.output}"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        pytest.fail(f"the example did not listen on {self.port} within {START_TIMEOUT}s: {self.output}")

    @property
    def output(self) -> str:
        with self._lock:
            return "".join(self._stdout + self._lines)


@pytest.fixture
def app():
    a = EmbeddedApp().start()
    try:
        yield a
    finally:
        a.stop()


async def test_app_route_api_and_transports_share_the_apps_port(app):
    async with app.http() as c:
        # The application's own route (it publishes to chat:lobby: offset 1).
        hello = await c.get("/hello")
        assert hello.status_code == 200 and hello.text == "Hello from the application\n", hello
        assert (await c.get("/health")).json() == {"status": "ok"}

    ws = await ws_connect(app.ws(topics=["chat:lobby"]))
    await recv_type(ws, "subscribed")
    # A WebSocket client publishes and receives, on the application's port.
    ack = await roundtrip(ws, {"type": "publish", "id": 1, "topic": "chat:lobby", "data": {"n": 1}})
    assert ack["type"] == "ack" and ack["offset"] == 2, ack
    message = await recv_type(ws, "message")
    assert message["data"] == {"n": 1} and message["offset"] == 2, message

    async with sse_connect(app, topics=["chat:lobby"]) as stream:
        # The application's route publishes through the hub: both transports get it.
        async with app.http() as c:
            assert (await c.get("/hello")).status_code == 200
        message = await recv_type(ws, "message")
        assert message["event"] == "hello" and message["data"] == "someone said hello", message
        event = await stream.next_event()
        assert event.event == "hello" and event.json()["data"] == "someone said hello", event

    # Chorus's HTTP API reads the history the application's store keeps.
    async with app.http() as c:
        page = (await c.get("/api/topics/chat:lobby/history")).json()
        assert [m["offset"] for m in page["messages"]] == [1, 2, 3], page

    # SIGTERM goes to the application's ServiceGroup: clients are told, the process exits 0.
    app.signal(signal.SIGTERM)
    frames, code, _ = await recv_until_closed(ws, timeout=5)
    assert [f["type"] for f in frames] == ["disconnect"] and frames[0]["code"] == 1001, frames
    assert code == 1001
    status = await asyncio.get_running_loop().run_in_executor(None, app.wait, 10)
    assert status == 0, app.output[-2000:]


async def test_the_mounted_event_bus_delivers_to_the_apps_handler_and_keeps_its_log(app):
    """The bus the example mounts: an event published on the application's port is stored, then
    the in-process handler `announce` gets it and publishes it to chat:lobby; a repeated
    event_id gets the first receipt and is not delivered again; an event no consumer wants is
    only logged, newest first, in the application's events.sqlite."""
    ws = await ws_connect(app.ws(topics=["chat:lobby"]))
    await recv_type(ws, "subscribed")
    async with app.http() as c:
        first = await c.post("/api/events/publish", json={"type": "order.paid", "data": {"order": 7}, "event_id": "o-7"})
        assert first.status_code == 200, first.text
        again = await c.post("/api/events/publish", json={"type": "order.paid", "data": {"order": 7}, "event_id": "o-7"})
        assert again.json()["duplicate"] is True and again.json()["sequence"] == first.json()["sequence"], again.text
        other = await c.post("/api/events/publish", json={"type": "user.joined", "data": {"user": "u1"}})
        nxt = await c.post("/api/events/publish", json={"type": "order.shipped", "data": {"order": 7}})
        assert other.status_code == 200 and nxt.status_code == 200, (other.text, nxt.text)
    delivered = [await recv_type(ws, "message"), await recv_type(ws, "message")]
    assert [(m["event"], m["data"]) for m in delivered] == [("order.paid", {"order": 7}), ("order.shipped", {"order": 7})], delivered
    async with app.http() as c:
        log = (await c.get("/api/events/log", params={"limit": 10})).json()
        assert [e["type"] for e in log["events"]] == ["order.shipped", "user.joined", "order.paid"], log
        # The consumer's position advances once the handler returned.
        deadline = time.monotonic() + 5
        while (stats := (await c.get("/api/events/stats")).json())["consumers"][0]["lag"] and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert [(s["name"], s["lag"]) for s in stats["consumers"]] == [("announce", 0)], stats
    await ws.close()
    app.signal(signal.SIGTERM)
    assert await asyncio.get_running_loop().run_in_executor(None, app.wait, 10) == 0, app.output[-2000:]
    assert (Path(app.cwd) / "events.sqlite").is_file()


async def test_sigterm_with_no_clients_exits_0(app):
    app.signal(signal.SIGTERM)
    status = await asyncio.get_running_loop().run_in_executor(None, app.wait, 10)
    assert status == 0, app.output[-2000:]


def test_docs_show_the_example_as_it_is():
    """docs/embedding.md holds the example's code verbatim, so the documented code is the tested code."""
    doc = (ROOT / "docs/embedding.md").read_text()
    blocks = re.findall(r"```swift\n(.*?)```", doc, re.S)
    assert EXAMPLE.read_text() in blocks, "docs/embedding.md's example differs from Examples/EmbeddedChorus/main.swift"


def test_serve_starts_from_the_demo_defaults():
    """The demo namespace (history, presence, sync) and SQLite in ./chorus-data are the executable's defaults (the library's are none and memory)."""
    r = run_cli("serve", "--help")
    assert r.returncode == 0, r.stderr
    assert re.search(r"--namespaces VALUE.*\n.*Default: \{\"demo\": \{\"history_size\": 1000, \"history_ttl\": \"86400s\", \"presence\": true, \"sync\": true\}\}", r.stdout), r.stdout
    assert re.search(r"--store VALUE.*\n.*Default: sqlite\b", r.stdout), r.stdout
    assert re.search(r"--data-dir VALUE.*\n.*Default: chorus-data\b", r.stdout), r.stdout

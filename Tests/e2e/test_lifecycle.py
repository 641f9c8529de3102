"""Process lifecycle: graceful shutdown, heartbeats, idle timeout, configuration sources and
precedence, `serve --help`, refusing unsafe or invalid configurations."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import time

import pytest

from conftest import (OP_PING, OP_PONG, OP_TEXT, SECRET, Hub, RawWebSocket, recv_frame,
                      recv_until_closed, roundtrip, run_cli, sse_connect, wait_for, ws_connect)


# -- graceful shutdown ------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_graceful_shutdown(hub_factory, sig):
    h = hub_factory()
    subscribed = await ws_connect(h.ws(topics=["room.1", "room.*"]))
    for _ in range(2):
        assert (await recv_frame(subscribed))["type"] == "subscribed"
    idle = await ws_connect(h.ws())
    assert await roundtrip(idle, {"type": "ping", "id": 1}) == {"type": "pong", "id": 1}
    async with sse_connect(h, topics=["room.1"]) as stream:
        async def counted():
            async with h.http() as c:
                s = (await c.get("/api/stats")).json()
            return s["connections"]["total"] == 3
        await wait_for(counted, what="3 connections")

        started = time.monotonic()
        h.signal(sig)
        for ws in (subscribed, idle):
            frames, code, _ = await recv_until_closed(ws, timeout=5)
            assert len(frames) == 1, frames
            d = frames[0]
            assert d["type"] == "disconnect" and d["code"] == 1001 and d["reconnect"] is True, d
            assert isinstance(d["reason"], str)
            assert code == 1001

        events = await stream.wait_end(timeout=5)
        assert [e.event for e in events] == ["disconnect"], events
        d = events[0].json()
        assert d["type"] == "disconnect" and d["code"] == 1001 and d["reconnect"] is True, d

        status = await asyncio.get_running_loop().run_in_executor(None, h.wait, 10)
        elapsed = time.monotonic() - started
        assert status == 0, h.stderr[-2000:]
        assert elapsed < 3.0, f"shutdown took {elapsed:.2f}s with cooperative clients"


async def test_shutdown_timeout_bounds_shutdown_with_unresponsive_client(hub_factory):
    """A client that never answers the close handshake cannot hold the hub past --shutdown-timeout."""
    h = hub_factory(["--shutdown-timeout", "1s"])
    raw = await RawWebSocket.connect(h)   # never reads, never answers the close
    try:
        assert raw.status == 101
        async with h.http() as c:
            assert (await c.get("/api/stats")).json()["connections"]["total"] == 1
        started = time.monotonic()
        h.signal(signal.SIGTERM)
        status = await asyncio.get_running_loop().run_in_executor(None, h.wait, 15)
        elapsed = time.monotonic() - started
        assert status == 0, h.stderr[-2000:]
        assert elapsed < 1.0 + 2.0, f"exit took {elapsed:.2f}s with --shutdown-timeout 1s"
    finally:
        await raw.aclose()


async def test_shutdown_with_no_clients_is_immediate(hub_factory):
    h = hub_factory()
    started = time.monotonic()
    h.signal(signal.SIGTERM)
    status = await asyncio.get_running_loop().run_in_executor(None, h.wait, 10)
    assert status == 0
    assert time.monotonic() - started < 2.0


# -- heartbeat / idle -------------------------------------------------------------------------

async def test_ping_frames_at_ping_interval(hub_factory):
    h = hub_factory(["--ping-interval", "200ms", "--idle-timeout", "10s"])
    raw = await RawWebSocket.connect(h)
    try:
        times = []
        while len(times) < 4:
            opcode, payload = await raw.recv_raw_frame(timeout=2.0)
            assert opcode == OP_PING, (opcode, payload)
            times.append(time.monotonic())
            await raw.send_frame(OP_PONG, payload)
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert all(0.1 <= g <= 1.0 for g in gaps), gaps
        # answering pings kept it alive and usable
        await raw.send_json({"type": "ping", "id": "after"})
        assert await raw.recv_json() == {"type": "pong", "id": "after"}
    finally:
        await raw.aclose()


async def test_silent_client_is_closed_after_idle_timeout(hub_factory):
    h = hub_factory(["--ping-interval", "200ms", "--idle-timeout", "800ms"])
    raw = await RawWebSocket.connect(h)
    try:
        started = time.monotonic()
        frames, code = await raw.recv_until_close(timeout=5)
        elapsed = time.monotonic() - started
        # heartbeats, then the `disconnect` notice the protocol promises before any close
        *pings, (last_op, last_payload) = frames
        assert pings and all(op == OP_PING for op, _ in pings), frames
        assert last_op == OP_TEXT and json.loads(last_payload) == {
            "type": "disconnect", "code": 1001, "reason": "idle timeout", "reconnect": True}, frames
        assert code == 1001, code
        assert 0.6 <= elapsed <= 2.5, f"closed after {elapsed:.2f}s, idle timeout 800ms"
        assert await raw.at_eof(timeout=3), "TCP connection not closed after the close frame"
    finally:
        await raw.aclose()

    async with h.http() as c:
        s = (await c.get("/api/stats")).json()
    assert s["connections"]["total"] == 0, s


async def test_silent_client_is_closed_even_without_pings(hub_factory):
    """With a ping interval longer than the idle timeout, silence alone still closes it."""
    h = hub_factory(["--ping-interval", "30s", "--idle-timeout", "600ms"])
    raw = await RawWebSocket.connect(h)
    try:
        started = time.monotonic()
        frames, code = await raw.recv_until_close(timeout=5)
        elapsed = time.monotonic() - started
        assert [(op, json.loads(p)) for op, p in frames] == [
            (OP_TEXT, {"type": "disconnect", "code": 1001, "reason": "idle timeout", "reconnect": True})], frames
        assert code == 1001, code
        assert 0.4 <= elapsed <= 2.5, elapsed
    finally:
        await raw.aclose()


async def test_client_answering_pings_outlives_idle_timeout(hub_factory):
    h = hub_factory(["--ping-interval", "150ms", "--idle-timeout", "500ms"])
    # the websockets library answers ping frames with pongs on its own
    async with await ws_connect(h.ws()) as ws:
        deadline = time.monotonic() + 1.6   # more than three idle timeouts without any app frame
        while time.monotonic() < deadline:
            try:
                frame = await asyncio.wait_for(ws.recv(), 0.2)
                pytest.fail(f"unexpected frame {frame!r}")
            except asyncio.TimeoutError:
                pass
        assert await roundtrip(ws, {"type": "ping", "id": 1}) == {"type": "pong", "id": 1}


# -- configuration sources --------------------------------------------------------------------

async def effective_publish_limit(hub: Hub) -> int:
    """The hub's max_publish_size as seen from outside: the largest accepted of a few probe sizes."""
    accepted = 0
    async with await ws_connect(hub.ws()) as ws:
        for size in (900, 1900, 2900, 3900):
            reply = await roundtrip(ws, {"type": "publish", "topic": "cfg", "data": "x" * (size - 2)})
            assert reply["type"] in ("ack", "error"), reply
            if reply["type"] == "ack":
                accepted = size
            else:
                assert reply["code"] == "too_large", reply
    return accepted


async def test_config_precedence_file_env_flag(tmp_path):
    (tmp_path / "chorus.json").write_text(json.dumps({"max_publish_size": 2000}))
    cases = [
        ({}, [], 1900),                                                                      # file
        ({"CHORUS_MAX_PUBLISH_SIZE": "3000"}, [], 2900),                                     # env > file
        ({"CHORUS_MAX_PUBLISH_SIZE": "3000"}, ["--max-publish-size", "1000"], 900),          # flag > env
        ({}, ["--max-publish-size=4000"], 3900),                                             # flag > file, --k=v form
    ]
    for env, args, expected in cases:
        h = Hub(args, env, cwd=tmp_path).start()
        try:
            assert await effective_publish_limit(h) == expected, (env, args)
        finally:
            h.stop()


async def test_defaults_without_config_file(hub_factory):
    h = hub_factory()   # empty temporary working directory: no chorus.json
    # default max_publish_size is 64KiB, far above every probe
    assert await effective_publish_limit(h) == 3900


async def test_config_path_via_flag_and_env(tmp_path):
    other = tmp_path / "elsewhere.json"
    other.write_text(json.dumps({"max_publish_size": "2KiB", "deliver_to_publisher": False}))
    (tmp_path / "cwd").mkdir()
    (tmp_path / "cwd" / "chorus.json").write_text(json.dumps({"max_publish_size": 1000}))
    for env, args in (({}, ["--config", str(other)]), ({"CHORUS_CONFIG": str(other)}, [])):
        h = Hub(args, env, cwd=tmp_path / "cwd").start()
        try:
            assert await effective_publish_limit(h) == 1900, (env, args)   # 2KiB = 2048
            # the file's boolean applied too: the publisher does not get its own message
            async with await ws_connect(h.ws(topics=["self"])) as ws:
                assert (await recv_frame(ws))["type"] == "subscribed"
                assert (await roundtrip(ws, {"type": "publish", "topic": "self", "data": 1}))["type"] == "ack"
                assert await roundtrip(ws, {"type": "ping", "id": 1}) == {"type": "pong", "id": 1}
        finally:
            h.stop()


async def test_config_file_durations_apply(tmp_path):
    (tmp_path / "chorus.json").write_text(json.dumps({"ping_interval": "150ms", "idle_timeout": "30s"}))
    h = Hub([], {}, cwd=tmp_path).start()
    raw = await RawWebSocket.connect(h)
    try:
        opcode, _ = await raw.recv_raw_frame(timeout=1.5)
        assert opcode == OP_PING
    finally:
        await raw.aclose()
        h.stop()


# -- help and refusals ------------------------------------------------------------------------

def test_serve_help_lists_every_option():
    r = run_cli("serve", "--help")
    assert r.returncode == 0, r.stderr
    text = r.stdout + r.stderr
    expected = {
        "config": None, "host": "127.0.0.1", "port": "8080", "threads": "0", "jwt-secret": "(none)",
        "jwt-public-key": "(none)", "jwks-file": "(none)", "api-key": "(none)", "allow-anonymous": None,
        "ping-interval": "30s", "idle-timeout": "60s", "sse-keepalive-interval": "15s",
        "max-message-size": "1MiB", "max-publish-size": "64KiB", "max-backlog": None,
        "deliver-to-publisher": "true", "allowed-origins": None, "shutdown-timeout": "10s",
        "log-level": "info",
    }
    for flag, default in expected.items():
        env = "CHORUS_" + flag.upper().replace("-", "_")
        m = re.search(rf"^\s*--{re.escape(flag)}\b[^\n]*\({env}\)\n(.*?)(?=^\s*--|\Z)", text, re.M | re.S)
        assert m, f"--{flag} ({env}) not listed in serve --help"
        if default is not None:
            assert re.search(rf"Default: {re.escape(default)}(\s|$)", m.group(1)), (flag, m.group(1))


@pytest.mark.parametrize("how", ["flag", "env", "file"])
def test_dev_hub_refuses_public_host(tmp_path, how):
    args, env = ["serve", "--port", "0"], {}
    if how == "flag":
        args += ["--host", "0.0.0.0"]
    elif how == "env":
        env["CHORUS_HOST"] = "0.0.0.0"
    else:
        (tmp_path / "chorus.json").write_text(json.dumps({"host": "0.0.0.0"}))
    r = run_cli(*args, env=env, cwd=tmp_path)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.startswith("chorus: ") and "0.0.0.0" in r.stderr, r.stderr


async def test_public_host_allowed_with_keys(hub_factory):
    h = hub_factory(["--host", "0.0.0.0", "--jwt-secret", SECRET, "--api-key", "k-public"])
    assert h.listen_host in ("0.0.0.0", "[::]", "::"), h.stderr
    async with h.http() as c:
        assert (await c.get("/health")).status_code == 200


@pytest.mark.parametrize("args,env,file,needle", [
    (["--ping-interval", "soon"], {}, None, "ping"),
    (["--port", "99999"], {}, None, "port"),
    (["--max-message-size", "12XB"], {}, None, "max-message-size"),
    (["--deliver-to-publisher", "maybe"], {}, None, "deliver-to-publisher"),
    (["--log-level", "loud"], {}, None, "log-level"),
    (["--no-such-option", "1"], {}, None, "no-such-option"),
    (["--ping-interval"], {}, None, "ping-interval"),
    ([], {"CHORUS_IDLE_TIMEOUT": "forever"}, None, "CHORUS_IDLE_TIMEOUT"),
    ([], {}, {"max_publish_size": "huge"}, "max_publish_size"),
    ([], {}, {"no_such_key": 1}, "no_such_key"),
    ([], {}, "{not json", "chorus.json"),
    (["--config", "/nonexistent/chorus.json"], {}, None, "/nonexistent/chorus.json"),
    (["--jwt-public-key", "/nonexistent/key.pem"], {}, None, "/nonexistent/key.pem"),
    (["--jwks-file", "/nonexistent/jwks.json"], {}, None, "/nonexistent/jwks.json"),
    # Out-of-range values used to trap (SIGILL, exit 132) instead of being refused.
    (["--ping-interval", "100000000000000000000"], {}, None, "--ping-interval: '100000000000000000000' is longer"),
    ([], {"CHORUS_IDLE_TIMEOUT": "100000000000000000000"}, None, "CHORUS_IDLE_TIMEOUT: "),
    ([], {}, {"namespaces": {"chat": {"history_size": 10, "history_ttl": "9999999999999999h"}}}, "history_ttl: "),
    (["--max-backlog", "9000000000000000000GiB"], {}, None, "--max-backlog: "),
], ids=["duration", "port-range", "size", "bool", "log-level", "unknown-flag", "flag-without-value",
        "env-duration", "file-size", "file-unknown-key", "file-bad-json", "missing-config",
        "missing-pem", "missing-jwks", "huge-duration", "huge-env-duration", "huge-history-ttl", "huge-size"])
def test_bad_configuration_exits_2(tmp_path, args, env, file, needle):
    if file is not None:
        (tmp_path / "chorus.json").write_text(file if isinstance(file, str) else json.dumps(file))
    r = run_cli("serve", "--port", "0", *args, env=env, cwd=tmp_path)
    assert r.returncode == 2, (r.returncode, r.stderr[-500:])
    assert r.stderr.startswith("chorus: "), r.stderr[-500:]
    assert needle in r.stderr, (needle, r.stderr)
    assert "listening" not in r.stderr


def test_port_in_use_exits_2():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = run_cli("serve", "--port", str(port))
    assert r.returncode == 2, (r.returncode, r.stderr[-500:])
    assert r.stderr.startswith("chorus: "), r.stderr[-500:]
    # Which address, and what to do about it, not the socket call's errno text.
    assert f"cannot listen on 127.0.0.1:{port}: the address is already in use" in r.stderr, r.stderr
    assert "--port" in r.stderr and "bind(descriptor" not in r.stderr, r.stderr

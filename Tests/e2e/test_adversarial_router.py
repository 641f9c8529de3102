"""Adversarial tests of the transport router (issue #21): requests pipelined ahead of an
upgrade or an SSE stream are answered in order and cannot crash the hub (defect 1); frames in
the upgrade's packet are answered at once (defect 7); every spelling of an /api/ path is held
to max_api_rate_per_key (defect 4)."""

from __future__ import annotations

import base64
import os
import socket
import time

import pytest

from conftest import RawWebSocket, bearer

API_KEY = "router-test-api-key"


def upgrade_request(path: str = "/ws") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"


class Conn:
    """A raw socket that reads HTTP responses (by content-length) and then raw bytes."""

    def __init__(self, hub, timeout: float = 5.0):
        self.sock = socket.create_connection(("127.0.0.1", hub.port), timeout=timeout)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buf += chunk
        return bool(chunk)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        """The next response: status, headers and (for a content-length) its body."""
        while b"\r\n\r\n" not in self.buf:
            assert self._fill(), f"connection closed before a response; got {self.buf!r}"
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
        length = int(headers.get("content-length", "0"))
        while len(self.buf) < length:
            assert self._fill(), "connection closed inside a body"
        body, self.buf = self.buf[:length], self.buf[length:]
        return int(status_line.split()[1]), headers, body

    def frame(self) -> tuple[int, bytes]:
        """The next unmasked server frame (short payloads only)."""
        while len(self.buf) < 2 or len(self.buf) < 2 + (self.buf[1] & 0x7F):
            assert self._fill(), "connection closed before a frame"
        opcode, length = self.buf[0] & 0x0F, self.buf[1] & 0x7F
        assert length < 126
        payload, self.buf = self.buf[2:2 + length], self.buf[2 + length:]
        return opcode, payload

    def at_eof(self) -> bool:
        try:
            while self._fill():
                pass
            return True
        except (socket.timeout, ConnectionResetError):
            return False

    def close(self) -> None:
        self.sock.close()


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


# -- defect 1: pipelined requests before a take-over -------------------------------------------

def test_health_then_upgrade_in_one_packet_answers_both_in_order(hub):
    conn = Conn(hub)
    conn.send(HEALTH + upgrade_request("/ws?topic=a"))
    status, _, body = conn.response()
    assert status == 200 and b'"ok"' in body
    status, headers, _ = conn.response()
    assert status == 101 and headers["upgrade"].lower() == "websocket"
    # The WebSocket works: a ping is answered, then a JSON frame.
    conn.send(RawWebSocket.encode_frame(0x9, b"hi"))
    opcode, payload = conn.frame()
    while opcode != 0xA:   # the `subscribed` frame for ?topic=a comes first
        opcode, payload = conn.frame()
    assert payload == b"hi"
    conn.close()
    time.sleep(6)
    assert hub.running, hub.stderr[-3000:]
    assert Conn(hub).sock is not None


def test_health_then_sse_in_one_packet_answers_both_in_order(hub):
    conn = Conn(hub)
    conn.send(HEALTH + b"GET /sse?topic=a HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, body = conn.response()
    assert status == 200 and b'"ok"' in body
    while b"\r\n\r\n" not in conn.buf:
        assert conn._fill()
    head = conn.buf.split(b"\r\n\r\n", 1)[0].decode().lower()
    assert head.startswith("http/1.1 200") and "text/event-stream" in head, head
    conn.close()
    time.sleep(6)
    assert hub.running, hub.stderr[-3000:]


def test_pipelined_plain_requests_are_answered_in_order(hub):
    conn = Conn(hub)
    conn.send(HEALTH + b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n" + HEALTH)
    bodies = [conn.response()[2] for _ in range(3)]
    assert [b'"ok"' in bodies[0], b'"ready"' in bodies[1], b'"ok"' in bodies[2]] == [True] * 3, bodies
    conn.close()


def test_connection_close_then_upgrade_closes_after_the_answer(hub):
    conn = Conn(hub)
    conn.send(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + upgrade_request())
    status, _, _ = conn.response()
    assert status == 200
    assert conn.at_eof() and conn.buf == b"", conn.buf
    conn.close()
    time.sleep(6)
    assert hub.running, hub.stderr[-3000:]


def test_publish_body_then_upgrade_then_frames(hub):
    body = b'{"topic":"a","data":1}'
    conn = Conn(hub)
    conn.send(b"POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
              + upgrade_request() + RawWebSocket.encode_frame(0x9, b"p"))
    assert conn.response()[0] == 200
    assert conn.response()[0] == 101
    assert conn.frame() == (0xA, b"p")
    conn.close()
    time.sleep(6)
    assert hub.running, hub.stderr[-3000:]


def test_many_pipelined_requests_stay_bounded(hub):
    conn = Conn(hub, timeout=10)
    pid = hub.pid
    before = rss_kb(pid)
    conn.send(HEALTH * 2000 + upgrade_request())
    answered = 0
    try:
        while True:
            status, _, _ = conn.response()
            if status == 101:
                break
            answered += 1
    except (AssertionError, ConnectionResetError):
        pass   # closed: more was pipelined than the router holds
    assert rss_kb(pid) - before < 50_000
    conn.close()
    time.sleep(1)
    assert hub.running, hub.stderr[-3000:]


# -- defect 7: frames in the upgrade's packet ---------------------------------------------------

def test_ping_in_the_upgrade_packet_is_answered_at_once(hub_factory):
    h = hub_factory(env={"CHORUS_PING_INTERVAL": "30"})
    conn = Conn(h)
    start = time.monotonic()
    conn.send(upgrade_request() + RawWebSocket.encode_frame(0x9, b"now"))
    assert conn.response()[0] == 101
    assert conn.frame() == (0xA, b"now")
    assert time.monotonic() - start < 1.0
    conn.close()


# -- defect 4: every spelling of /api/ counts against max_api_rate_per_key ---------------------

API_VARIANTS = ["//api/publish", "///api/publish", "/api//publish", "/./api/publish",
                "/api/./publish", "/x/../api/publish", "/api/publish/..", "http://x/api/publish"]
# Percent-encoded separators are not refused (a user id may hold an encoded "/"); whatever
# Hummingbird routes them to, they must not escape the limiter.
ENCODED_VARIANTS = ["/%2Fapi/publish", "/api%2Fpublish", "/api%2fpublish", "/%2e/api/publish",
                    "/api/%2e/publish", "/%61pi/publish"]


def raw_request(hub, method: str, target: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, dict, bytes]:
    conn = Conn(hub)
    lines = [f"{method} {target} HTTP/1.1", "Host: x", f"Content-Length: {len(body)}",
             "Content-Type: application/json"] + [f"{k}: {v}" for k, v in headers.items()]
    conn.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    try:
        return conn.response()
    finally:
        conn.close()


def test_api_path_variants_never_reach_a_handler(hub_factory):
    """Each spelling is refused with a JSON 400 before routing: no publish passes a limit of 5,
    and no wrong key is checked (no 401), so key guessing cannot go around the limiter."""
    h = hub_factory(["--api-key", API_KEY, "--jwt-secret", "s" * 32], env={"CHORUS_MAX_API_RATE_PER_KEY": "5"})
    body = b'{"topic":"a","data":1}'
    for path in API_VARIANTS:
        for key in (API_KEY, "wrong"):
            status, headers, answer = raw_request(h, "POST", path, bearer(key), body)
            assert status == 400 and b'"bad_request"' in answer, (path, status, answer)
    # The canonical path still counts against the limit, and wrong keys are throttled too.
    statuses = [raw_request(h, "POST", "/api/publish", bearer(API_KEY), body)[0] for _ in range(6)]
    assert statuses == [200] * 5 + [429], statuses
    wrong = [raw_request(h, "POST", "/api/publish", bearer("wrong"), body)[0] for _ in range(6)]
    assert wrong == [401] * 5 + [429], wrong


@pytest.mark.parametrize("key", [API_KEY, "wrong"])
def test_encoded_api_paths_do_not_escape_the_limit(hub_factory, key):
    h = hub_factory(["--api-key", API_KEY, "--jwt-secret", "s" * 32], env={"CHORUS_MAX_API_RATE_PER_KEY": "5"})
    body = b'{"topic":"a","data":1}'
    for path in ENCODED_VARIANTS:
        # Spend the caller's budget, then try the variant at once.
        while raw_request(h, "POST", "/api/publish", bearer(key), body)[0] != 429:
            pass
        status, _, answer = raw_request(h, "POST", path, bearer(key), body)
        assert status in (404, 429), (path, status, answer)

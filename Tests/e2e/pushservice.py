"""A Web Push service stand-in on loopback, for the hub's push deliveries (docs/pwa.md).

It checks each request the way a push service does, with code nobody on Chorus wrote: the
VAPID token (RFC 8292) with PyJWT's ES256 verification against the key in ``k``, its ``aud``
(this server's origin), ``exp`` (in the future, at most 24 hours ahead) and ``sub``; then it
decrypts the body (RFC 8291 ``aes128gcm``) with ``http_ece`` and the browser's private key.
Each endpoint answers from a script (201 by default; 429 with Retry-After, 500, 410, …).
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """One browser subscription: its key pair and auth secret, as PushManager makes them."""
    name: str
    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64u(self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    claims: dict[str, Any]
    payload: dict[str, Any] | None
    status: int
    at: float


class PushServiceStandIn:
    def __init__(self) -> None:
        self.browsers: dict[str, Browser] = {}
        self.scripts: dict[str, list[tuple[int, dict[str, str]]]] = {}
        self.received: list[Received] = []
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "PushServiceStandIn":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def browser(self, name: str) -> Browser:
        self.browsers[name] = Browser(name)
        return self.browsers[name]

    def endpoint(self, name: str) -> str:
        return f"{self.origin}/push/{name}"

    def subscription(self, name: str, **extra: Any) -> dict[str, Any]:
        """The JSON a browser's ``PushSubscription.toJSON()`` gives, for a new browser ``name``."""
        browser = self.browser(name)
        return {"endpoint": self.endpoint(name), "keys": {"p256dh": browser.p256dh, "auth": b64u(browser.auth)}, **extra}

    def script(self, name: str, *answers: int | tuple[int, dict[str, str]]) -> None:
        """The next answers of endpoint ``name``, in order (then 201)."""
        self.scripts[name] = [a if isinstance(a, tuple) else (a, {}) for a in answers]

    def deliveries(self, name: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.received if name is None or r.path == f"/push/{name}"]

    def wait_for(self, count: int, name: str | None = None, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.deliveries(name)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"expected {count} push requests to {name}, got {len(self.deliveries(name))}; failures: {self.failures}")

    def _verify(self, headers: dict[str, str], body: bytes, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        scheme, _, params = headers.get("authorization", "").partition(" ")
        assert scheme == "vapid", f"Authorization scheme {scheme!r}"
        values = dict(part.strip().split("=", 1) for part in params.split(","))
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64u(values["k"]))
        claims = jwt.decode(values["t"], public, algorithms=["ES256"], audience=self.origin,
                            options={"require": ["aud", "exp", "sub"]})
        assert claims["exp"] <= time.time() + 24 * 3600, f"exp more than 24 h ahead: {claims}"
        assert claims["sub"].startswith(("mailto:", "https:")), claims
        assert headers.get("content-encoding") == "aes128gcm", headers
        browser = self.browsers[name]
        plaintext = http_ece.decrypt(body, private_key=browser.private_key, auth_secret=browser.auth, version="aes128gcm")
        return claims, json.loads(plaintext)

    def _handler(self):
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                name = self.path.rsplit("/", 1)[-1]
                claims: dict[str, Any] = {}
                payload = None
                try:
                    claims, payload = stand_in._verify(headers, body, name)
                    with stand_in._lock:
                        script = stand_in.scripts.get(name, [])
                        status, extra = script.pop(0) if script else (201, {})
                except Exception as error:  # a request a real push service would refuse
                    stand_in.failures.append(f"{name}: {error!r}")
                    status, extra = 400, {}
                with stand_in._lock:
                    stand_in.received.append(Received(self.path, headers, claims, payload, status, time.monotonic()))
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler

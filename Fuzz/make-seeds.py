#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target into Fuzz/corpus/<target>/.

The seeds are checked in; run this only to change them: `make-seeds.py [target...]` rewrites
the targets named (all when none; the ES256 seeds differ on every run). It needs the
`cryptography` package to sign ES256 tokens with the fuzzing key in JWTFuzzKeys.swift. Input layouts are described in
each harness (Fuzz/Sources/ChorusFuzzTargets/*Harness.swift).
"""
import base64
import hashlib
import hmac
import json
import pathlib
import re
import shutil
import struct
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

FUZZ = pathlib.Path(__file__).resolve().parent
KEYS = (FUZZ / "Sources/ChorusFuzzTargets/JWTFuzzKeys.swift").read_text()
SECRET = re.search(r'static let secret = "([^"]+)"', KEYS).group(1).encode()
API_KEY = re.search(r'static let apiKey = "([^"]+)"', KEYS).group(1)
EC_PEM = re.search(r"(-----BEGIN PRIVATE KEY-----.*?-----END PRIVATE KEY-----)", KEYS, re.S).group(1)
EC_KEY = serialization.load_pem_private_key(
    "\n".join(line.strip() for line in EC_PEM.splitlines()).encode(), None
)
FAR_FUTURE = 4102444800  # 2100-01-01

# The order of JWTKeySetup's cases and of JWTHarness's shapes.
SECRET_SETUP, RSA_SETUP, EC_SETUP, JWKS_SETUP, ALL_SETUP, NO_KEY_SETUP = range(6)
RAW, PIECES, SIGNED, API = range(4)


def b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def token(header: dict, payload: dict, sign=True) -> bytes:
    signing_input = b64url(json.dumps(header).encode()) + b"." + b64url(json.dumps(payload).encode())
    if not sign:
        signature = b"not-a-signature"
    elif header.get("alg") == "ES256":
        der = EC_KEY.sign(signing_input, ec.ECDSA(hashes.SHA256()))
        r, s = utils.decode_dss_signature(der)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        signature = hmac.new(SECRET, signing_input, hashlib.sha256).digest()
    return signing_input + b"." + b64url(signature)


def frame_decoder_seeds():
    frames = {
        "auth": {"type": "auth", "id": 1, "token": "header.payload.signature"},
        "subscribe": {"type": "subscribe", "id": "s1", "topic": "chat:general"},
        "subscribe-pattern": {"type": "subscribe", "topic": "messages.user.*"},
        "subscribe-tail": {"type": "subscribe", "topic": "messages.**", "since": {"ts": 1700000000000}},
        "subscribe-since-offset": {"type": "subscribe", "topic": "chat:room", "since": {"offset": 41, "epoch": "e-1"}},
        "subscribe-since-null": {"type": "subscribe", "topic": "a", "since": None},
        "unsubscribe": {"type": "unsubscribe", "id": 3, "topic": "messages.user.*"},
        "publish": {"type": "publish", "id": 4, "topic": "chat:general", "event": "msg",
                    "data": {"text": "h\u00e9llo \ud83d\ude00", "n": [1, -2.5e3, True, None]}, "idempotency_key": "k1"},
        "message-alias": {"type": "message", "topic": "a.b", "data": "x"},
        "publish-to-pattern": {"type": "publish", "topic": "a.*", "data": 1},
        "ping": {"type": "ping", "id": 5, "timestamp": 1700000000000},
        "ping-object-timestamp": {"type": "ping", "timestamp": {"t": [1, {"u": "v"}]}},
        "presence": {"type": "presence", "topic": "room"},
        "presence-update": {"type": "presence_update", "topic": "room", "meta": {"status": "away"}},
        "direct": {"type": "direct", "id": 6, "to": "bob", "event": "offer", "data": {"sdp": "v=0"}},
        "direct-empty-user": {"type": "direct", "to": "", "data": {}},
        "demo-typing": {"type": "demo:typing", "room": "lobby", "typing": True},
        "custom": {"type": "chat:send", "id": 7, "text": "x", "nested": {"a": {"b": []}}},
    }
    seeds = {name + ".json": json.dumps(frame).encode() for name, frame in frames.items()}
    seeds.update({
        "escapes.json": rb'{"type":"publish","topic":"t","event":"\"\\\/\b\f\n\r\t\u0000\u00e9\ud83d\ude00","data":"\u2028"}',
        "numbers.json": b'{"type":"ping","id":-9223372036854775808,"timestamp":[0,-0,1.5e-7,1E+400,9223372036854775808]}',
        "duplicate-keys.json": b'{"type":"ping","id":1,"id":"two","type":"ping"}',
        "whitespace.json": b' \t\r\n{ "type" : "ping" , "id" : 1 } \n',
        "id-object.json": b'{"type":"ping","id":{"a":1}}',
        "deep.json": b'{"type":"ping","timestamp":' + b"[" * 70 + b"]" * 70 + b"}",
        "truncated.json": b'{"type":"publish","topic":"a","data":{"x":[1,2',
        "invalid-utf8.json": b'{"type":"publish","topic":"a","data":"\xc3\x28\xed\xa0\x80"}',
        "lone-surrogate.json": rb'{"type":"auth","token":"\ud800"}',
        "not-an-object.json": b'["type","ping"]',
        "empty.json": b"",
    })
    return seeds


def topic_seeds():
    def pieces(*texts):
        return b"\0".join(text.encode() if isinstance(text, str) else text for text in texts)

    return {
        "topics": pieces("chat:general", "messages.user.42", "a-b_c=d@e:f"),
        "patterns": pieces("messages.user.*", "messages.**", "*", "**", "*.*.c", "a.b.c", "messages.user"),
        "overlap": pieces("a.*.c", "a.b.*", "a.**", "a.b.c", "*.b.c", "a.b.c.d"),
        "invalid": pieces("", ".", "a..b", "a.", ".a", "a.**.b", "a*", "***", "a b", "caf\u00e9", "a.\u0301b", b"\xff\xfe"),
        "limits": pieces("x" * 255, "x" * 256, ".".join("s" * 16), ".".join("s" * 17), ".".join(["s"] * 15 + ["**"])),
    }


def jwt_seeds():
    hs = {"alg": "HS256", "typ": "JWT"}
    es = {"alg": "ES256", "typ": "JWT"}
    alice = {"sub": "alice", "exp": FAR_FUTURE}
    seeds = {}
    for setup in range(6):
        seeds[f"{setup}-raw-hs256"] = bytes([setup, RAW]) + token(hs, alice)
        seeds[f"{setup}-raw-es256"] = bytes([setup, RAW]) + token(es, alice)
        seeds[f"{setup}-raw-es256-kid"] = bytes([setup, RAW]) + token({**es, "kid": "ec-1"}, {"sub": "bob", "nbf": 0})
    seeds.update({
        "raw-expired": bytes([SECRET_SETUP, RAW]) + token(hs, {"sub": "alice", "exp": 1}),
        "raw-not-yet-valid": bytes([SECRET_SETUP, RAW]) + token(hs, {"sub": "alice", "nbf": FAR_FUTURE}),
        "raw-empty-sub": bytes([SECRET_SETUP, RAW]) + token(hs, {"sub": ""}),
        "raw-bad-signature": bytes([SECRET_SETUP, RAW]) + token(hs, alice, sign=False),
        "raw-alg-none": bytes([SECRET_SETUP, RAW]) + token({"alg": "none"}, alice, sign=False),
        "raw-rs256": bytes([RSA_SETUP, RAW]) + token({"alg": "RS256", "kid": "rsa-1"}, alice, sign=False),
        "raw-two-dots": bytes([SECRET_SETUP, RAW]) + b"..",
        "raw-garbage": bytes([JWKS_SETUP, RAW]) + b"e30.e30.e30.e30",
        "pieces-hs256": bytes([SECRET_SETUP, PIECES]) + b'{"alg":"HS256"}\0{"sub":"a"}\0sig',
        "pieces-jwks-kid": bytes([JWKS_SETUP, PIECES]) + b'{"alg":"RS256","kid":"rsa-1"}\0{"sub":"a"}\0' + bytes(256),
        "signed-hs256": bytes([SECRET_SETUP, SIGNED]) + b'{"alg":"HS256","typ":"JWT"}\0{"sub":"alice","exp":4102444800}',
        "signed-es256": bytes([EC_SETUP, SIGNED]) + b'{"alg":"ES256"}\0{"sub":"bob","exp":4102444800.5,"nbf":0}',
        "signed-es256-jwks": bytes([JWKS_SETUP, SIGNED]) + b'{"alg":"ES256","kid":"ec-1"}\0{"sub":"carol"}',
        "signed-all-keys": bytes([ALL_SETUP, SIGNED]) + b'{"alg":"HS256"}\0{"sub":"dave"}',
        "signed-claim-types": bytes([SECRET_SETUP, SIGNED]) + b'{"alg":"HS256"}\0{"sub":1,"exp":"soon"}',
        "api-key": bytes([SECRET_SETUP, API]) + b"Bearer " + API_KEY.encode(),
        "api-token": bytes([SECRET_SETUP, API]) + b"bearer " + token(hs, alice),
        "api-basic": bytes([JWKS_SETUP, API]) + b"Basic dXNlcjpwYXNz",
        "api-development": bytes([NO_KEY_SETUP, API]) + b"Bearer x",
    })
    return seeds


def websocket_seeds():
    def frame(opcode, payload=b"", fin=True, mask=b"\x37\xfa\x21\x3d", rsv=0):
        header = bytes([(0x80 if fin else 0) | rsv | opcode])
        length = len(payload)
        mask_bit = 0x80 if mask is not None else 0
        if length < 126:
            header += bytes([mask_bit | length])
        elif length <= 0xFFFF:
            header += bytes([mask_bit | 126]) + struct.pack(">H", length)
        else:
            header += bytes([mask_bit | 127]) + struct.pack(">Q", length)
        if mask is None:
            return header + payload
        return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

    ping = b'{"type":"ping","id":1}'
    publish = b'{"type":"publish","topic":"chat:general","data":{"text":"hi"}}'
    stream = b"\x00"  # an even first byte: the rest is a raw client byte stream
    built = b"\x01"  # odd: header byte, payload piece, separator, ...
    return {
        "stream-text": stream + frame(0x1, ping),
        "stream-zero-mask": stream + frame(0x1, publish, mask=b"\0\0\0\0"),
        "stream-fragments": stream + frame(0x1, publish[:10], fin=False) + frame(0x9, b"p")
        + frame(0x0, publish[10:30], fin=False) + frame(0x0, publish[30:]),
        "stream-binary": stream + frame(0x2, b"\xff\x00"),
        "stream-close": stream + frame(0x8, struct.pack(">H", 1000) + b"bye"),
        "stream-close-bad-code": stream + frame(0x8, struct.pack(">H", 1005)),
        "stream-unmasked": stream + frame(0x1, ping, mask=None),
        "stream-rsv1": stream + frame(0x1, ping, rsv=0x40),
        "stream-invalid-utf8": stream + frame(0x1, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"),
        "stream-oversize": stream + frame(0x1, b"x" * 1025),
        "stream-oversize-fragments": stream + frame(0x1, b"x" * 600, fin=False) + frame(0x0, b"y" * 600),
        "stream-continuation-first": stream + frame(0x0, b"x"),
        "built-text": built + b"\x81" + ping,
        "built-fragments": built + b"\x01" + publish[:20] + b"\0\x8a\0\x00" + publish[20:40] + b"\0\x80" + publish[40:],
        "built-close": built + b"\x88" + struct.pack(">H", 4000) + "r\u00e9ason".encode(),
        "built-fragmented-ping": built + b"\x09p",
        "built-unknown-opcode": built + b"\x83x",
    }


def router_seeds():
    # RouterHarness: a shape byte (bits 0-1: writes - 1; bits 2-4: run the loop after write n;
    # bit 5: the clock then moves past request_timeout),
    # two bytes of the stand-in's timings (4 bits a request: 0 at once, 1 a tick after the head,
    # 2 at the request's end, 3 a tick after it; +4 `Connection: close`), a byte per cut.
    def seed(*writes, run_loop=0, clock=0, timings=0):
        cuts, total, data = [], sum(len(w) for w in writes), b""
        for write in writes[:-1]:
            data += write
            # The cut byte c puts the cut at total * c // 256: the smallest c that reaches it.
            cuts.append(next(c for c in range(256) if total * c // 256 >= len(data)))
        return bytes([len(writes) - 1 | run_loop << 2 | clock << 5, timings & 0xFF, timings >> 8, *cuts]) + data + writes[-1]

    health = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    ready = b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n"
    key = b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    upgrade = b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + key + b"\r\n"
    echo = upgrade.replace(b"/ws", b"/echo")
    sse = b"GET /sse?topic=a&topic=b.* HTTP/1.1\r\nHost: x\r\n\r\n"
    ping = bytes([0x89, 0x82, 1, 2, 3, 4, ord("h") ^ 1, ord("i") ^ 2])

    def text(payload: bytes) -> bytes:
        mask = b"\x01\x02\x03\x04"
        return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

    post = b"POST /api/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\r\n"
    body = b'{"topic":"a","data":{"n":1}}\n'
    subscribe = text(b'{"type":"subscribe","topic":"a"}')
    publish = text(b'{"type":"publish","topic":"a","data":1}')
    return {
        # Issue #21's crash: the upgrade in the same packet as a request Hummingbird answers later.
        "health-then-upgrade": seed(health + upgrade, timings=0x1),
        "health-then-upgrade-at-end": seed(health + upgrade, timings=0x3),
        "health-then-upgrade-two-writes": seed(health, upgrade, timings=0x1),
        "health-then-sse": seed(health + sse, timings=0x1),
        "health-then-echo-then-frames": seed(health + echo + ping, timings=0x3),
        "pipelined-gets": seed(health + ready + health + b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", timings=0x3210),
        "post-with-body": seed(post + body[:10], body[10:] + health, run_loop=1, timings=0x2),
        "post-answered-before-body": seed(post, body + upgrade, timings=0x00),
        "connection-close": seed(health.replace(b"Host: x", b"Host: x\r\nConnection: close") + health + upgrade, timings=0x1),
        "close-from-responder": seed(health + health + upgrade, timings=0x15),
        "http-1.0": seed(b"GET /health HTTP/1.0\r\n\r\n" + health, timings=0x1),
        "upgrade-with-frames": seed(upgrade + ping + subscribe + publish),
        "upgrade-frames-split": seed(upgrade[:40], upgrade[40:] + ping[:3], ping[3:] + publish, run_loop=7),
        "upgrade-then-bad-frame": seed(upgrade + b"\x81\x05hello"),
        "sse-with-token": seed(b"GET /sse?topic=a&token=x.y.z HTTP/1.1\r\nHost: x\r\n\r\n"),
        "upgrade-bad-key": seed(upgrade.replace(b"Version: 13", b"Version: 8")),
        "non-canonical-path": seed(b"GET //ws HTTP/1.1\r\nHost: x\r\n\r\n" + health),
        "malformed-head": seed(b"GET /health HTTP/1.1\r\nHost x\r\n\r\n"),
        "malformed-after-health": seed(health + b"\x00\x01 garbage\r\n\r\n", timings=0x1),
        "chunked-body": seed(b"POST /api/publish HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + health, timings=0x2),
        "empty": seed(b""),
        "partial-head-times-out": seed(b"GET /health HTTP/1.1\r\nHo", clock=1),
        "health-then-idle": seed(health, clock=1),
        "pipelined-body-times-out": seed(post + body[:5], clock=1, timings=0x0),
    }


def resp_seeds():
    # RESPHarness: a byte with the number of extra pieces, their lengths, then the replies.
    def seed(wire, cuts=()):
        return bytes([len(cuts), *cuts]) + wire

    every_type = (
        b"+OK\r\n-ERR unknown command\r\n!21\r\nSYNTAX invalid syntax\r\n:-42\r\n$5\r\nhe\r\no\r\n"
        b"$-1\r\n*-1\r\n_\r\n,3.25\r\n,-inf\r\n,nan\r\n#t\r\n#f\r\n(-3492890328409238509324850943850943825024385\r\n"
        b"=15\r\ntxt:Some string\r\n"
    )
    aggregates = (
        b"*2\r\n:1\r\n*1\r\n+a\r\n%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n~2\r\n:1\r\n:2\r\n"
        b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nx\r\n|1\r\n+ttl\r\n:3600\r\n:7\r\n*0\r\n"
    )
    pubsub = (
        b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
        b"*4\r\n$8\r\npmessage\r\n$3\r\nn.*\r\n$3\r\nn.a\r\n$0\r\n\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    )
    xread = b"*1\r\n*2\r\n$6\r\nstream\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nd\r\n$2\r\nhi\r\n"
    return {
        "every-type": seed(every_type),
        "every-type-split": seed(every_type, (1, 3, 7, 20, 2, 40, 5)),
        "aggregates": seed(aggregates),
        "aggregates-split": seed(aggregates, (5, 1, 1, 9)),
        "pubsub": seed(pubsub, (17,)),
        "xread": seed(xread, (2, 30)),
        "too-deep": seed(b"*1\r\n" * 9 + b":1\r\n"),
        "bulk-too-long": seed(b"$513\r\n"),
        "line-too-long": seed(b"+" + b"a" * 130 + b"\r\n", (64,)),
        "cr-without-lf": seed(b"+a\rb\r\n"),
        "int-overflow": seed(b":9223372036854775808\r\n"),
        "empty": seed(b""),
    }


def binary_frame_seeds():
    # BinaryFrameHarness: one binary WebSocket message; the shared vectors, valid and invalid.
    vectors = json.loads((FUZZ.parent / "Tests/vectors/binary-frames.json").read_text())
    seeds = {}
    for vector in vectors["valid"] + vectors["invalid"]:
        name = re.sub(r"[^a-z0-9]+", "-", vector["name"].lower()).strip("-")
        seeds[name] = bytes.fromhex(vector["frame"])
    header = json.dumps({"type": "publish", "topic": "chat:a", "id": "x", "idempotency_key": "k"}).encode()
    seeds["large-data"] = bytes([1]) + struct.pack(">H", len(header)) + header + bytes(range(256)) * 8
    return seeds


def main(targets):
    corpus = FUZZ / "corpus"
    for target, make in {
        "frame-decoder": frame_decoder_seeds,
        "topics": topic_seeds,
        "jwt": jwt_seeds,
        "websocket": websocket_seeds,
        "router": router_seeds,
        "resp": resp_seeds,
        "binary-frame": binary_frame_seeds,
    }.items():
        if targets and target not in targets:
            continue
        seeds = make()
        folder = corpus / target
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name, data in seeds.items():
            (folder / name).write_bytes(data)
        print(f"{target}: {len(seeds)} seeds")


if __name__ == "__main__":
    main(sys.argv[1:])

#!/usr/bin/env python3
"""Writes standard-webhooks.json: deliveries signed by the PyPI package `standardwebhooks` (the
Standard Webhooks reference library for Python, independent of Chorus's Swift code).

WebhookSignatureTests (Swift) signs each case and must produce exactly these headers, and
Tests/e2e/test_webhook_signatures.py checks with the library that every case in the committed
file verifies. Run it from this folder: python3 make-standard-webhooks-vectors.py (needs
standardwebhooks, pinned in Tests/e2e/requirements.txt)."""

import base64
import json
import random
from datetime import datetime, timezone

from standardwebhooks import Webhook

# Fixed, so regenerating gives the same file.
generator = random.Random(20261206)


def secret(length: int) -> str:
    return "whsec_" + base64.b64encode(bytes(generator.randrange(256) for _ in range(length))).decode()


def sign(secrets: list, msg_id: str, timestamp: int, body: str) -> str:
    when = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return " ".join(Webhook(s).sign(msg_id, when, body) for s in secrets)


cases = [
    # The specification's published vector.
    ("spec-vector", ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}'),
    ("shortest-secret", [secret(24)], "evt_01", 1700000000, '{"type":"order.created","data":{"id":42}}'),
    ("longest-secret", [secret(64)], "evt_02", 1700000001, '{"type":"order.paid","data":{"total":12.5}}'),
    ("empty-body", [secret(32)], "evt_03", 1800000000, ""),
    ("unicode-body", [secret(32)], "evt-ünïcode", 1800000001, '{"text":"héllo wörld ✓ 😀","quote":"\\"q\\""}'),
    ("multiline-body", [secret(32)], "evt_05", 1, '{\n  "a": [1, 2, 3],\n  "b": null\n}\n'),
    ("rotation-two-secrets", [secret(32), secret(32)], "evt_06", 1765000000, '{"rotating":true}'),
    ("rotation-three-secrets", [secret(24), secret(48), secret(64)], "evt_07", 1765000001, '[]'),
    ("large-body", [secret(32)], "evt_08", 1765000002, json.dumps({"items": [{"sku": f"sku-{i}", "qty": i} for i in range(200)]})),
]

vectors = [
    {"name": name, "secrets": secrets, "id": msg_id, "timestamp": timestamp, "body": body, "signature": sign(secrets, msg_id, timestamp, body)}
    for (name, secrets, msg_id, timestamp, body) in cases
]
assert vectors[0]["signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

with open("standard-webhooks.json", "w") as output:
    json.dump({"generator": "standardwebhooks==1.1.0 (PyPI)", "vectors": vectors}, output, indent=2, ensure_ascii=False)
    output.write("\n")

"""Standard Webhooks signatures checked by an independent implementation.

Tests/vectors/standard-webhooks.json holds deliveries signed by the PyPI package
`standardwebhooks` (its generator, make-standard-webhooks-vectors.py, sits beside it). The Swift
side (WebhookSignatureTests) must sign each case to exactly the header in the file; this file
proves, with the library itself, that every committed case verifies and that the file was not
edited by hand to match Swift. Together: the library accepts what Chorus signs. The vectors are
committed, so neither side depends on the other having run first.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
import standardwebhooks.webhooks as library
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "standard-webhooks.json"
CASES = json.loads(VECTORS.read_text())["vectors"]


def frozen_at(seconds: int):
    """A `datetime` whose now() is `seconds`: the library checks timestamps against its clock."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(seconds, tz=tz or timezone.utc)

    return Frozen


def headers(case: dict) -> dict:
    return {"webhook-id": case["id"], "webhook-timestamp": str(case["timestamp"]), "webhook-signature": case["signature"]}


def test_the_file_holds_the_specification_vector():
    spec = next(case for case in CASES if case["name"] == "spec-vector")
    assert spec["secrets"] == ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
    assert spec["signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert len(CASES) >= 9


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_every_case_verifies_with_each_of_its_secrets(case, monkeypatch):
    monkeypatch.setattr(library, "datetime", frozen_at(case["timestamp"] + 60))
    for secret in case["secrets"]:
        Webhook(secret).verify(case["body"].encode(), headers(case), json_parse=False)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_the_library_signs_every_case_to_the_committed_header(case):
    when = datetime.fromtimestamp(case["timestamp"], tz=timezone.utc)
    signed = " ".join(Webhook(secret).sign(case["id"], when, case["body"]) for secret in case["secrets"])
    assert signed == case["signature"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_a_changed_body_or_id_or_a_stale_timestamp_is_refused(case, monkeypatch):
    monkeypatch.setattr(library, "datetime", frozen_at(case["timestamp"]))
    webhook = Webhook(case["secrets"][0])
    with pytest.raises(WebhookVerificationError):
        webhook.verify((case["body"] + " ").encode(), headers(case), json_parse=False)
    with pytest.raises(WebhookVerificationError):
        webhook.verify(case["body"].encode(), headers(case) | {"webhook-id": case["id"] + "x"}, json_parse=False)
    monkeypatch.setattr(library, "datetime", frozen_at(case["timestamp"] + 301))
    with pytest.raises(WebhookVerificationError):
        webhook.verify(case["body"].encode(), headers(case), json_parse=False)

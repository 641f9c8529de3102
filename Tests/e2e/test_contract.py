"""The HTTP API against docs/openapi.yaml, checked by a tool nobody here wrote: schemathesis
(every operation; its examples, coverage, fuzzing and stateful phases; every check), once with a
fixed seed and once with a random one, against a live hub. And the method rules it relies on:
a known path asked with another method is a 405 with `Allow`; HEAD works wherever GET does."""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from conftest import Hub

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "contract-api-key"
SECRET = "contract-test-secret-0123456789abcdef"


def schemathesis_bin() -> str:
    path = os.environ.get("SCHEMATHESIS_BIN") or str(ROOT / ".venv-contract/bin/schemathesis")
    assert Path(path).exists(), (
        f"{path} is missing: scripts/test makes it (python3 -m venv .venv-contract && "
        ".venv-contract/bin/pip install -r Tests/contract/requirements.txt)")
    return path


@pytest.fixture(scope="module")
def secured_hub():
    # The default namespaces: `demo` keeps history, so the history endpoint has topics to read.
    h = Hub(env={"CHORUS_API_KEY": API_KEY, "CHORUS_JWT_SECRET": SECRET}).start()
    yield h
    h.stop()


@pytest.mark.parametrize("seed", [1, random.randrange(1, 2**31)], ids=["fixed-seed", "random-seed"])
def test_schemathesis_finds_nothing(secured_hub: Hub, seed: int, tmp_path: Path):
    result = subprocess.run(
        [schemathesis_bin(), "run", str(ROOT / "docs/openapi.yaml"),
         "--url", secured_hub.url, "-H", f"Authorization: Bearer {API_KEY}",
         "--checks", "all", "--seed", str(seed), "--max-examples", "40",
         "--phases", "examples,coverage,fuzzing,stateful", "--no-color"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900)
    report = result.stdout + result.stderr
    assert result.returncode == 0, f"schemathesis (seed {seed}) found failures:\n{report[-12000:]}"
    # Every operation of the document was selected and exercised.
    selected = re.search(r"Selected: (\d+)/(\d+)", report)
    tested = re.search(r"Tested: (\d+)", report)
    assert selected and tested, report[-3000:]
    assert int(selected[1]) == int(selected[2]) == int(tested[1]) >= 11, report[-3000:]
    assert secured_hub.running


@pytest.mark.parametrize("method,path,allow", [
    ("GET", "/api/publish", "POST"),
    ("PUT", "/api/broadcast", "POST"),
    ("DELETE", "/health", "GET, HEAD"),
    ("POST", "/api/topics/demo:lobby/history", "GET, HEAD"),
    ("TRACE", "/metrics", "GET, HEAD"),
    ("PATCH", "/api/users/alice/send", "POST"),
    ("POST", "/sse?topic=demo:lobby", "GET"),
])
def test_a_known_path_with_another_method_is_405_with_allow(secured_hub: Hub, method: str, path: str, allow: str):
    response = httpx.request(method, secured_hub.url + path, headers={"Authorization": f"Bearer {API_KEY}"})
    assert response.status_code == 405, (response.status_code, response.text)
    assert response.headers["allow"] == allow
    assert response.json()["error"]["code"] == "bad_request", response.text


def test_an_unknown_path_is_still_404(secured_hub: Hub):
    response = httpx.get(secured_hub.url + "/api/nothing-here", headers={"Authorization": f"Bearer {API_KEY}"})
    assert response.status_code == 404 and "allow" not in response.headers
    assert response.json()["error"]["code"] == "not_found"


def test_head_answers_wherever_get_does(secured_hub: Hub):
    get = httpx.get(secured_hub.url + "/health")
    head = httpx.head(secured_hub.url + "/health")
    assert head.status_code == get.status_code == 200
    assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"]
    assert httpx.head(secured_hub.url + "/js/chorus.js").status_code == 200


@pytest.mark.parametrize("body,field", [
    ({"topic": "demo:a", "data": 1, "event": None}, "event"),
    ({"topic": "demo:a", "data": 1, "idempotency_key": None}, "idempotency_key"),
    ({"topic": "demo:a", "data": 1, "correlation_id": True}, "correlation_id"),
    ({"topic": "demo:a", "data": 1, "partition_key": 7}, "partition_key"),
])
def test_publish_refuses_fields_of_the_wrong_type(secured_hub: Hub, body: dict, field: str):
    response = httpx.post(secured_hub.url + "/api/publish", json=body, headers={"Authorization": f"Bearer {API_KEY}"})
    assert response.status_code == 400, response.text
    assert f"'{field}'" in response.json()["error"]["message"]


def test_null_where_the_document_says_string_is_refused(secured_hub: Hub):
    auth = {"Authorization": f"Bearer {API_KEY}"}
    send = httpx.post(secured_hub.url + "/api/users/alice/send", json={"event": None, "data": 1}, headers=auth)
    disconnect = httpx.post(secured_hub.url + "/api/users/alice/disconnect", json={"reason": None}, headers=auth)
    assert send.status_code == disconnect.status_code == 400, (send.text, disconnect.text)


def test_metrics_pass_promtool(secured_hub: Hub):
    """`/metrics` is valid Prometheus exposition text by Prometheus's own linter, with series
    of every kind present (a connection, publishes, an error, a refused request)."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: scripts/test installs it (Debian package prometheus)"
    auth = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=secured_hub.url, headers=auth) as client:
        assert client.post("/api/publish", json={"topic": "demo:lint", "data": 1}).status_code == 200
        assert client.post("/api/publish", json={"topic": "chat:lint", "data": 1}).status_code == 200
        assert client.post("/api/publish", json={"topic": "bad topic", "data": 1}).status_code == 400
        text = client.get("/metrics").text
    assert "chorus_messages_published_total" in text and 'code="bad_request"' in text, text[:2000]
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"promtool check metrics:\n{result.stdout}{result.stderr}"

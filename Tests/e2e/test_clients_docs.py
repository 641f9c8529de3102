"""docs/clients.md as a newcomer uses it: the Node example runs as written against a fresh hub
(only the port changed), a page on another origin can import chorus.js from the hub, and every
error code the client can emit is in the table of codes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import httpx

from conftest import Hub

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs/clients.md").read_text()


def test_every_error_code_the_client_emits_is_documented():
    source = (ROOT / "clients/js/chorus.js").read_text()
    emitted = set(re.findall(r"new ChorusError\('([a-z_]+)'", source))
    assert {"socket_error", "timeout", "disconnected"} <= emitted, emitted
    section = DOC.split("The client also has codes of its own:", 1)[1].split("\n\n", 2)[1]
    documented = set(re.findall(r"`([a-z_]+)`", "\n".join(line.split("|")[1] for line in section.splitlines()[2:])))
    assert emitted - documented == set(), f"codes chorus.js emits but docs/clients.md does not list: {emitted - documented}"


def test_the_node_example_runs_as_written(tmp_path: Path):
    node = shutil.which("node")
    assert node, "node is missing (the machine image has Node 20)"
    block = re.search(r"\*\*In Node\.\*\*.*?```sh\n(.*?)```", DOC, re.S)
    assert block, "docs/clients.md has no Node example"
    hub = Hub(cwd=tmp_path).start()
    try:
        script = block.group(1).replace("127.0.0.1:8080", f"127.0.0.1:{hub.port}")
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        assert 'got {"text":"hello from Node"}' in result.stdout, result.stdout + result.stderr
    finally:
        hub.stop()


def test_a_page_on_another_origin_may_import_the_client_from_the_hub(hub_factory):
    hub = hub_factory(["--allowed-origins", "https://app.example.com"])
    allowed = httpx.get(f"{hub.url}/js/chorus.js", headers={"Origin": "https://app.example.com"})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert allowed.headers["content-type"].startswith("text/javascript")
    other = httpx.get(f"{hub.url}/js/chorus.js", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers

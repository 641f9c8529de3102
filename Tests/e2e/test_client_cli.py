"""`chorus sub` and `chorus pub` (Sources/chorus, on ChorusClient) against real hub processes:
README's commands as written, recovery with --since, HTTP publishing, a restart under a running
`chorus sub`, and clear errors for bad input."""
from __future__ import annotations

import json
import re
import shlex
import subprocess
import threading
import time
from pathlib import Path

from conftest import Hub, chorus_bin, clean_env, run_cli

README = Path(__file__).resolve().parents[2] / "README.md"
HISTORY = ["--namespaces", json.dumps({"chat": {"history_size": 1000}}), "--store", "sqlite"]


class Lines:
    """A running `chorus sub`, its stdout lines collected on a thread."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen([chorus_bin(), "sub", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=clean_env())
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout
        for line in self.proc.stdout:
            self.lines.append(line)

    def frames(self, count: int, timeout: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.lines) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.lines) >= count, f"{len(self.lines)} lines of {count}: {self.lines!r}"
        return [json.loads(line) for line in self.lines[:count]]

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(5)


def pub(hub: Hub, *args: str) -> dict:
    result = run_cli("pub", *args, "--url", hub.ws_url)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def wait_subscribed(hub: Hub, count: int = 1) -> None:
    """Until the hub lists `count` WebSocket connections (chorus sub has connected)."""
    import httpx
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        body = httpx.get(f"{hub.url}/api/connections").json()
        if len(body["connections"]) >= count:
            time.sleep(0.3)  # its subscribe frames follow the connection
            return
        time.sleep(0.05)
    raise AssertionError("chorus sub did not connect")


def test_readme_chorus_commands_work_as_written():
    block = re.search(r"With the `chorus` executable itself.*?```sh\n(.*?)```", README.read_text(), re.S)
    assert block, "README has no chorus sub / pub block"
    commands = [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    sub_args, pub_args = (shlex.split(c)[6:] for c in commands)   # after `swift run -c release chorus sub|pub`
    hub = Hub().start()
    sub = Lines(*sub_args, "--url", hub.ws_url)
    try:
        wait_subscribed(hub)
        receipt = pub(hub, *pub_args)
        frame = sub.frames(1)[0]
        assert frame["message_id"] == receipt["message_id"]
        assert (frame["topic"], frame["event"], frame["data"]) == ("chat:general", "msg", {"text": "hello"})
    finally:
        sub.stop()
        hub.stop()


def test_since_replays_and_http_publishes(tmp_path):
    hub = Hub(HISTORY).start()
    try:
        receipts = [pub(hub, "chat:cli", json.dumps({"n": n})) for n in range(1, 6)]
        assert [r["offset"] for r in receipts] == [1, 2, 3, 4, 5]
        epoch = receipts[0]["epoch"]
        replay = run_cli("sub", "chat:cli", "--since", f"2:{epoch}", "--count", "3", "--url", hub.ws_url)
        assert replay.returncode == 0, replay.stderr
        assert [json.loads(line)["data"]["n"] for line in replay.stdout.splitlines()] == [3, 4, 5]
        http = run_cli("pub", "chat:cli", "not json", "--http", "--key", "k-1", "--url", hub.ws_url)
        again = run_cli("pub", "chat:cli", "not json", "--http", "--key", "k-1", "--url", hub.ws_url)
        assert http.returncode == 0 and again.returncode == 0, (http.stderr, again.stderr)
        assert json.loads(http.stdout) == json.loads(again.stdout)   # the idempotency key held
        assert json.loads(http.stdout)["offset"] == 6
    finally:
        hub.stop()


def test_a_running_sub_recovers_across_a_hub_restart(tmp_path):
    hub = Hub(HISTORY, cwd=tmp_path).start()
    pub(hub, "chat:restart", '{"n":0}')
    sub = Lines("chat:restart", "--url", hub.ws_url)
    try:
        wait_subscribed(hub)
        for n in range(1, 4):
            pub(hub, "chat:restart", json.dumps({"n": n}))
        sub.frames(3)
        port = hub.port
        hub.kill()
        hub = Hub(HISTORY + ["--port", str(port)], cwd=tmp_path, port_flag=False).start()
        for n in range(4, 7):
            pub(hub, "chat:restart", json.dumps({"n": n}))
        assert [f["data"]["n"] for f in sub.frames(6, timeout=40)] == [1, 2, 3, 4, 5, 6]
    finally:
        sub.stop()
        hub.stop()


def test_bad_input_is_a_clear_error():
    hub = Hub().start()
    try:
        for args, needle in [
            (["pub", "chat.*", "{}", "--url", hub.ws_url], "wildcards are only allowed in subscription patterns"),
            (["pub", "chat:a", "{}", "--url", "ftp://x/ws"], "ftp"),
            (["pub", "chat:a"], "give a TOPIC and DATA"),
            (["sub"], "name at least one topic"),
            (["sub", "chat:a", "--since", "x:y"], "--since"),
            (["sub", "bad topic!", "--url", hub.ws_url], "invalid topic"),
        ]:
            result = run_cli(*args)
            assert result.returncode == 2, (args, result.stdout, result.stderr)
            assert needle in result.stderr, (args, result.stderr)
    finally:
        hub.stop()

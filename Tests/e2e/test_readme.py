"""README's "Try it" terminal commands, run as written (only the port changed) against a fresh
development hub: the WebSocket and SSE subscribers both receive the publish."""
from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import Hub

README = Path(__file__).resolve().parents[2] / "README.md"


def try_it_commands() -> list[str]:
    """The commands of the shell block after "From a terminal:", comments dropped and
    continuation lines joined."""
    text = README.read_text()
    block = re.search(r"From a terminal:\s*```sh\n(.*?)```", text, re.S)
    assert block, "README has no 'From a terminal:' shell block"
    commands, current = [], ""
    for line in block.group(1).splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        current += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            commands.append(current.strip())
            current = ""
    return commands


class Output:
    """Collects a subprocess's stdout lines on a thread."""

    def __init__(self, proc: subprocess.Popen):
        self.proc, self.lines = proc, []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for(self, needle: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = "".join(self.lines)
            if needle in text:
                return text
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} not seen within {timeout}s; output: {''.join(self.lines)!r}")


def test_readme_try_it_commands_work_as_written():
    commands = try_it_commands()
    assert [c.split()[0] for c in commands] == ["python3", "curl", "curl"], commands
    hub = Hub().start()
    procs: list[subprocess.Popen] = []
    try:
        def argv(command: str) -> list[str]:
            args = shlex.split(command.replace("127.0.0.1:8080", f"127.0.0.1:{hub.port}"))
            # The test environment's Python has `websockets`; README says to install it.
            return [sys.executable, *args[1:]] if args[0] == "python3" else args

        ws = subprocess.Popen(argv(commands[0]), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        sse = subprocess.Popen(argv(commands[1]), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs += [ws, sse]
        ws_out, sse_out = Output(ws), Output(sse)
        ws_out.wait_for('"type":"subscribed"')
        sse_out.wait_for(": connected")
        published = subprocess.run(argv(commands[2]), capture_output=True, text=True, timeout=10)
        assert published.returncode == 0, published.stderr
        receipt = json.loads(published.stdout)
        assert receipt["message_id"], receipt
        for out in (ws_out, sse_out):
            text = out.wait_for(receipt["message_id"])
            assert '"text":"hello"' in text and '"topic":"chat:general"' in text, text
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(5)
        hub.stop()


def test_the_hub_says_where_the_demo_and_the_dashboard_are(tmp_path):
    hub = Hub(cwd=tmp_path).start()
    try:
        base = f"http://127.0.0.1:{hub.port}"
        deadline = time.monotonic() + 5
        while f"{base}/demo" not in hub.stderr and time.monotonic() < deadline:
            time.sleep(0.05)
        assert f"demo: {base}/demo, dashboard: {base}/dashboard" in hub.stderr, hub.stderr
    finally:
        hub.stop()

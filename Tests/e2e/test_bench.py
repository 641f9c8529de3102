"""Smoke of `chorus bench`: each mode runs for a second or so against a debug hub, delivers, and
prints a JSON line that parses. Not a timing assertion: the figures of a debug build on a busy
machine say nothing; what is checked is that the runs complete, count right and lose nothing."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import OTHER_SECRET, SECRET, Hub, chorus_bin, clean_env, free_port, hs256

RUN_TIMEOUT = 60


def bench(*args: str) -> tuple[dict, str]:
    """Runs ``chorus bench ARGS`` to completion; returns its JSON line and its stderr."""
    done = subprocess.run([chorus_bin(), "bench", *args], capture_output=True, text=True,
                          timeout=RUN_TIMEOUT, env=clean_env())
    assert done.returncode == 0, f"chorus bench {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}"
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, f"expected one JSON line on stdout, got {done.stdout!r}"
    return json.loads(lines[0]), done.stderr


@pytest.fixture(scope="module")
def bench_hub():
    h = Hub(["--echo-endpoint"]).start()
    yield h
    h.stop()


def test_connections_spread_over_worker_processes(bench_hub: Hub):
    result, stderr = bench("connections", "--url", f"ws://127.0.0.1:{bench_hub.port}/ws", "--connections", "60",
                           "--per-process", "25", "--duration", "0.3s", "--settle", "0.2s",
                           "--server-pid", str(bench_hub.pid))
    assert result["mode"] == "connections"
    assert result["connected"] == 60 and result["failed"] == 0
    assert result["worker_processes"] == 3
    assert result["closed_by_server"] == 0
    assert "server_bytes_per_connection" in result and "generator_cpu_seconds" in result
    assert "server memory per connection" in stderr


@pytest.mark.parametrize("transport", ["ws", "sse"])
def test_fanout_delivers_everything_in_order(bench_hub: Hub, transport: str):
    url = (f"ws://127.0.0.1:{bench_hub.port}/ws" if transport == "ws"
           else f"http://127.0.0.1:{bench_hub.port}/sse?topic={{topic}}")
    result, _ = bench("fanout", "--subscribe-url", url, "--publish-url", f"http://127.0.0.1:{bench_hub.port}/api/publish",
                      "--subscribers", "40", "--topics", "3", "--probe", "10", "--rate", "40", "--duration", "1s",
                      "--server-pid", str(bench_hub.pid))
    assert result["subscribers"] == 40 and result["published"] > 0 and result["publish_errors"] == 0
    assert result["deliveries"] == result["expected_deliveries"] > 0
    assert result["lost"] == 0 and result["probe_lost"] == 0 and result["reordered"] == 0
    assert result["latency_us"]["samples"] > 0
    assert result["deliveries_per_server_cpu_second"] >= 0


def test_echo_round_trips(bench_hub: Hub):
    result, _ = bench("echo", "--url", f"ws://127.0.0.1:{bench_hub.port}/echo", "--connections", "10",
                      "--pipeline", "2", "--duration", "1s")
    assert result["connections"] == 10 and result["round_trips"] > 0 and result["errors"] == 0
    assert result["latency_us"]["samples"] == result["round_trips"]


def test_churn_with_token_and_api_key_hub(hub_factory):
    h = hub_factory(["--jwt-secret", SECRET, "--api-key", "bench-key"])
    result, _ = bench("churn", "--url", f"ws://127.0.0.1:{h.port}/ws", "--token", hs256(SECRET, "bench"),
                      "--concurrency", "4", "--duration", "1s")
    assert result["cycles"] > 0 and result["errors"] == 0
    minted, _ = bench("churn", "--url", f"ws://127.0.0.1:{h.port}/ws", "--token-secret", SECRET,
                      "--concurrency", "4", "--duration", "1s")
    assert minted["tokens"] == "one per connection" and minted["cycles"] > 0 and minted["errors"] == 0, minted
    # The hub checks each minted token: signed with another secret, every cycle is refused.
    forged, _ = bench("churn", "--url", f"ws://127.0.0.1:{h.port}/ws", "--token-secret", OTHER_SECRET,
                      "--concurrency", "2", "--duration", "0.5s")
    assert forged["cycles"] == 0 and forged["errors"] > 0, forged
    published, _ = bench("fanout", "--subscribe-url", f"ws://127.0.0.1:{h.port}/ws", "--token", hs256(SECRET, "bench"),
                         "--publish-url", f"http://127.0.0.1:{h.port}/api/publish", "--api-key", "bench-key",
                         "--subscribers", "5", "--rate", "20", "--duration", "0.5s")
    assert published["publish_errors"] == 0 and published["deliveries"] == published["expected_deliveries"] > 0


def test_floor_writes_to_every_connection():
    result, _ = bench("floor", "--connections", "50", "--rounds", "3", "--payload-size", "64")
    assert result["mode"] == "floor" and result["connections"] == 50 and result["rounds"] == 3
    assert 0 < result["round_ms_min"] <= result["round_ms_p50"]
    assert result["write_us_p50"] == pytest.approx(result["round_ms_p50"] * 1000 / 50, rel=1e-3)


@pytest.mark.parametrize("args, message", [
    (["fanout", "--subscribers", "x"], "--subscribers"),
    (["echo", "--bogus", "1"], "unknown option --bogus"),
    (["churn", "--server", "redis"], "--server"),
    (["churn", "--token", "a.b.c", "--token-secret", "s"], "--token-secret and --token"),
    (["connections", "--server", "nchan", "--url", "ws://127.0.0.1:1/sub"], "{topic}"),
    (["fanout", "--subscribe-url", "ftp://example/ws"], "ws://"),
    (["sideways"], "unknown bench mode"),
    (["floor", "--connections", "20000"], "--connections"),
    (["history", "--messages", "0"], "--messages needs a whole number of at least 1, not '0'"),
    (["history", "--store-sync", "off"], "--store-sync is full or normal"),
    (["transform", "x.wat", "--messages", "many"], "--messages needs a whole number of at least 1, not 'many'"),
    (["transform", "x.wat", "--warmup", "-1"], "--warmup needs a whole number of at least 0"),
])
def test_bad_arguments_exit_with_a_message(args: list[str], message: str):
    done = subprocess.run([chorus_bin(), "bench", *args], capture_output=True, text=True, timeout=RUN_TIMEOUT, env=clean_env())
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert message in done.stderr and "Fatal error" not in done.stderr, done.stderr


def test_an_unreachable_server_is_an_error_not_a_crash():
    done = subprocess.run([chorus_bin(), "bench", "echo", "--url", f"ws://127.0.0.1:{free_port()}/echo",
                           "--connections", "3", "--connect-timeout", "2s"],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT, env=clean_env())
    assert done.returncode == 2, done.stderr
    assert "no echo connection could be opened" in done.stderr and "refused" in done.stderr.lower(), done.stderr

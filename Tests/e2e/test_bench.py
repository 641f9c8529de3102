"""Smoke of `chorus bench`: each mode runs for a second or so against a debug hub, delivers, and
prints a JSON line that parses. Not a timing assertion: the figures of a debug build on a busy
machine say nothing; what is checked is that the runs complete, count right and lose nothing."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

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


@pytest.mark.parametrize("payload,query", [("binary", "?binary=1"), ("binary", ""), ("base64", "")])
def test_fanout_of_binary_payloads_and_of_the_same_bytes_in_base64_json(bench_hub: Hub, payload: str, query: str):
    """--payload binary publishes application/octet-stream (binary frames to ?binary=1
    subscribers, base64 JSON to the others); base64 puts the same bytes base64'd in JSON."""
    result, _ = bench("fanout", "--subscribe-url", f"ws://127.0.0.1:{bench_hub.port}/ws{query}",
                      "--publish-url", f"http://127.0.0.1:{bench_hub.port}/api/publish", "--payload", payload,
                      "--payload-size", "1024", "--subscribers", "20", "--topics", "2", "--probe", "5", "--rate", "40",
                      "--duration", "1s", "--server-pid", str(bench_hub.pid))
    assert result["published"] > 0 and result["publish_errors"] == 0, result
    assert result["deliveries"] == result["expected_deliveries"] > 0
    assert result["lost"] == 0 and result["probe_lost"] == 0 and result["reordered"] == 0
    assert result["latency_us"]["samples"] > 0


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
    (["events", "--url", "https://127.0.0.1:1"], "events publishes to http://HOST:PORT or ws://HOST:PORT/ws (a hub) or nats://HOST:PORT"),
    (["client", "--messages", "0"], "--messages needs a whole number of at least 1, not '0'"),
    (["client", "--down-ms", "-5"], "--down-ms needs a whole number of at least 0"),
    (["events", "--url", "nats://127.0.0.1"], "is not nats://HOST:PORT"),
    (["events", "--stream", "a.b"], "is not a JetStream stream name"),
])
def test_bad_arguments_exit_with_a_message(args: list[str], message: str):
    done = subprocess.run([chorus_bin(), "bench", *args], capture_output=True, text=True, timeout=RUN_TIMEOUT, env=clean_env())
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert message in done.stderr and "Fatal error" not in done.stderr, done.stderr


def test_client_measures_rates_memory_and_recovery_of_the_swift_client():
    # Seconds long: a few hundred messages, a few clients, a hub down for 200 ms.
    result, _ = bench("client", "--messages", "300", "--memory-clients", "10", "--recovery-clients", "5", "--down-ms", "200")
    assert result["mode"] == "client" and result["messages"] == 300
    assert result["publish_per_second"] > 0 and result["receive_per_second"] > 0
    # RSS growth over 10 clients may round to a page either way: its presence is what is checked.
    assert result["memory_clients"] == 10 and isinstance(result["memory_bytes_per_client"], int)
    recovery = result["recovery_ms"]
    assert result["recovery_clients"] == 5 and 0 <= recovery["p50"] <= recovery["p95"] <= recovery["max"]
    # A history topic resumed after kill -9: every client's resubscription recovered.
    assert result["recovered_false"] == 0


def test_an_unreachable_server_is_an_error_not_a_crash():
    done = subprocess.run([chorus_bin(), "bench", "echo", "--url", f"ws://127.0.0.1:{free_port()}/echo",
                           "--connections", "3", "--connect-timeout", "2s"],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT, env=clean_env())
    assert done.returncode == 2, done.stderr
    assert "no echo connection could be opened" in done.stderr and "refused" in done.stderr.lower(), done.stderr


@pytest.fixture
def jetstream():
    """``nats-server`` with JetStream (file storage in a temporary directory) on a free loopback
    port, a child of the test, stopped by pid."""
    binary = shutil.which("nats-server")
    assert binary, "nats-server is not installed: scripts/test installs it"
    folder = tempfile.mkdtemp(prefix="chorus-nats-")
    port = free_port()
    with open(f"{folder}/log", "wb") as log:
        proc = subprocess.Popen([binary, "-js", "-sd", folder, "-a", "127.0.0.1", "-p", str(port)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, open(f"{folder}/log").read()[-2000:]
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    if s.recv(4).startswith(b"INFO"):
                        break
            except OSError:
                time.sleep(0.05)
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(folder, ignore_errors=True)


def test_events_against_jetstream_are_acknowledged(jetstream):
    port, pid = jetstream
    for _ in range(2):  # the second run deletes and recreates the stream
        result, stderr = bench("events", "--url", f"nats://127.0.0.1:{port}", "--duration", "1s",
                               "--connections", "4", "--server-pid", str(pid))
        assert result["server"] == "jetstream" and result["publishers"] == 4, stderr
        assert result["acknowledged"] > 0 and result["errors"] == 0 and result["closed_by_server"] == 0, stderr
        assert result["latency_us"]["samples"] == result["acknowledged"]
        assert result["server_cpu_seconds"] > 0


def test_events_to_a_server_that_is_not_there_is_an_error():
    done = subprocess.run([chorus_bin(), "bench", "events", "--url", f"http://127.0.0.1:{free_port()}",
                           "--connections", "2", "--connect-timeout", "2s"],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT, env=clean_env())
    assert done.returncode == 2, done.stderr
    assert "no publisher could connect" in done.stderr and "Fatal error" not in done.stderr, done.stderr


# -- presence, sync and event consumers (#14, #15, #13 figures) ---------------------------------

FEATURE_NAMESPACES = json.dumps({"bench": {"presence": True, "sync": True}})


@pytest.fixture(scope="module")
def feature_hub():
    """The hub as docs/performance.md starts it for these modes: presence and sync in `bench`."""
    h = Hub(["--namespaces", FEATURE_NAMESPACES]).start()
    yield h
    h.stop()


def latency_is_ordered(figures: dict) -> bool:
    return 0 < figures["p50"] <= figures["p90"] <= figures["p99"] <= figures["max"]


def test_presence_probes_see_every_join_and_pairs_signal(feature_hub: Hub):
    result, stderr = bench("presence", "--url", f"ws://127.0.0.1:{feature_hub.port}/ws", "--members", "60", "--probes", "3",
                           "--present", "20", "--per-process", "40", "--signal-pairs", "2", "--duration", "1s",
                           "--server-pid", str(feature_hub.pid))
    assert result["mode"] == "presence" and result["topic"] == "bench:room-0", stderr
    assert result["members"] == 60 and result["probes"] == 3 and result["join_failures"] == 0, stderr
    assert result["present"] == 20 and result["room_size"] == 83
    assert result["worker_processes"] == 4  # those present, the probes, and the timed members over two
    # Every timed member joined after every probe, with its stamp: each probe saw each join once
    # (and none of those present before it, which its presence_state listed).
    assert result["joins_expected"] == 3 * 60 == result["joins_seen"] and result["joins_unseen"] == 0
    assert result["join_seen_latency_us"]["samples"] == result["joins_seen"]
    assert latency_is_ordered(result["join_seen_latency_us"])
    assert result["join_seen_latency_us"]["max"] <= result["list_complete_seconds"] * 1e6
    assert result["joins_per_second"] > 0 and result["frames_per_probe"] >= 1 and result["bytes_per_probe"] > 0
    assert result["closed_by_server"] == 0
    assert result["server_rss_after_kib"] > 0 and "server_bytes_per_member" in result
    assert result["signal_pairs"] == 2 and result["signal_round_trips"] > 0 and result["signal_errors"] == 0
    assert result["signal_latency_us"]["samples"] == result["signal_round_trips"]
    assert latency_is_ordered(result["signal_latency_us"])


def test_sync_subscribers_get_every_acknowledged_mutation_and_the_snapshot_is_whole(feature_hub: Hub):
    result, stderr = bench("sync", "--url", f"ws://127.0.0.1:{feature_hub.port}/ws", "--writers", "3", "--subscribers", "30",
                           "--probes", "5", "--records", "300", "--snapshot-reads", "2", "--duration", "1s",
                           "--server-pid", str(feature_hub.pid))
    assert result["mode"] == "sync" and result["collection"] == "bench:tasks-0", stderr
    assert result["subscribers"] == 30 and result["subscribe_failures"] == 0 and result["probes"] == 5
    assert 0 < result["acknowledged"] <= result["acknowledged_total"] and result["mutation_errors"] == 0, stderr
    assert result["ack_latency_us"]["samples"] == result["acknowledged"]
    assert result["changes_expected"] == result["acknowledged_total"] * 30 == result["changes_delivered"]
    assert result["lost"] == 0 and result["probe_lost"] == 0 and result["reordered"] == 0
    assert result["change_latency_us"]["samples"] == result["acknowledged_total"] * 5
    assert latency_is_ordered(result["change_latency_us"]) and latency_is_ordered(result["ack_latency_us"])
    assert result["mutations_per_server_cpu_second"] > 0
    assert result["snapshot_loaded"] == result["snapshot_records"] == 300 and result["snapshot_load_errors"] == 0
    assert result["snapshot_reads"] == 2 and 0 < result["snapshot_ms_min"] <= result["snapshot_ms_p50"]
    assert result["snapshot_bytes"] > 300 * 100  # each record's data is --payload-size (100) bytes


def test_sync_runs_again_on_the_same_hub(feature_hub: Hub):
    """Mutation ids, records and the snapshot's collection are the run's own: a second run is
    not taken for retries of the first."""
    result, stderr = bench("sync", "--url", f"ws://127.0.0.1:{feature_hub.port}/ws", "--writers", "2", "--subscribers", "4",
                           "--probes", "2", "--records", "20", "--snapshot-reads", "1", "--duration", "0.5s")
    assert result["mutation_errors"] == 0 and result["lost"] == 0 and result["snapshot_records"] == 20, stderr


@pytest.mark.parametrize("consumer", ["bridge", "webhook"])
def test_events_consumer_receives_every_acknowledged_event(feature_hub: Hub, consumer: str):
    result, stderr = bench("events", "--url", f"http://127.0.0.1:{feature_hub.port}", "--connections", "3", "--duration", "1s",
                           "--consumer", consumer, "--server-pid", str(feature_hub.pid))
    assert result["consumer"] == consumer and result["errors"] == 0, stderr
    assert 0 < result["acknowledged"] <= result["acknowledged_total"] == result["consumer_deliveries"], stderr
    assert result["consumer_lost"] == 0 and result["consumer_errors"] == 0
    assert result["consumer_latency_us"]["samples"] == result["consumer_deliveries"]
    assert latency_is_ordered(result["consumer_latency_us"])
    assert result["consumer_deliveries_per_second"] > 0
    # The run's consumer is deleted after it.
    with urllib.request.urlopen(f"http://127.0.0.1:{feature_hub.port}/api/events/consumers") as answer:
        assert json.load(answer)["consumers"] == []


def test_events_over_websocket_are_acknowledged_and_each_reaches_the_consumer():
    """`event_publish` frames (a token with a user, `events_client_types`, the per-connection limits lifted)."""
    secret, key = "bench-events-secret-0123456789abcdef", "bench-events-key"
    h = Hub(["--namespaces", FEATURE_NAMESPACES, "--jwt-secret", secret, "--api-key", key, "--events-client-types", "bench.**",
             "--max-connections-per-user", "0", "--max-publish-rate-per-connection", "0"]).start()
    try:
        result, stderr = bench("events", "--url", f"ws://127.0.0.1:{h.port}/ws", "--token", hs256(secret, "bench"), "--api-key", key,
                               "--connections", "3", "--duration", "1s", "--consumer", "bridge", "--server-pid", str(h.pid))
        assert result["transport"] == "websocket" and result["errors"] == 0 and result["closed_by_server"] == 0, stderr
        assert 0 < result["acknowledged"] <= result["acknowledged_total"] == result["consumer_deliveries"], stderr
        assert result["consumer_lost"] == 0 and latency_is_ordered(result["latency_us"])
    finally:
        h.stop()


def test_presence_in_a_namespace_without_it_says_why():
    """The stock hub has presence in `demo` only: the joins to `bench:room-0` are refused, and the run says how."""
    h = Hub([]).start()
    try:
        done = subprocess.run([chorus_bin(), "bench", "presence", "--url", f"ws://127.0.0.1:{h.port}/ws", "--members", "2",
                               "--probes", "1", "--signal-pairs", "0"],
                              capture_output=True, text=True, timeout=RUN_TIMEOUT, env=clean_env())
    finally:
        h.stop()
    assert done.returncode == 2, done.stderr
    assert "no connection could be opened" in done.stderr and "forbidden" in done.stderr, done.stderr
    assert "Fatal error" not in done.stderr

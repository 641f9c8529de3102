"""WebAssembly transforms on the hub (docs/wasm.md): each example over WebSocket and HTTP,
history keeping the transformed data, drops, `transform_failed` for every kind of failure
without harm to other topics, a module that cannot load stopping the start, reload on file
change and on SIGHUP with a publisher running, and `chorus wasm check`."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import pytest

from conftest import (Hub, HubStartError, chorus_bin, parse_metrics, recv_frame, recv_type, roundtrip,
                      run_cli, send, subscribe, wait_for, ws_connect)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "wasm"


def abi_module(body: str, output: str = "", extra: str = "") -> str:
    """A transform module (ABI v1) whose `chorus_transform` is `body`; `output` is what
    `chorus_output` points at (16, its length)."""
    escaped = output.replace('"', '\\"')
    return f"""
    (module
      (memory (export "memory") 1)
      (data (i32.const 16) "{escaped}")
      (global $out (mut i64) (i64.const {16 << 32 | len(output.encode())}))
      (func (export "chorus_abi_version") (result i32) (i32.const 1))
      (func (export "chorus_alloc") (param i32) (result i32) (i32.const 1024))
      (func (export "chorus_output") (result i64) (global.get $out))
      (func (export "chorus_transform") (param $tp i32) (param $tl i32) (param $ep i32) (param $el i32)
        (param $dp i32) (param $dl i32) (result i32)
        {body})
      {extra})
    """


def wrapper_module(version: int) -> str:
    """Replaces data D with {"v":version,"d":D}: a message transformed twice would show it."""
    prefix = '{"v":%d,"d":' % version
    return abi_module(f"""
        (memory.copy (i32.const 8192) (i32.const 16) (i32.const {len(prefix)}))
        (memory.copy (i32.const {8192 + len(prefix)}) (local.get $dp) (local.get $dl))
        (i32.store8 (i32.add (i32.const {8192 + len(prefix)}) (local.get $dl)) (i32.const 125))
        (global.set $out (i64.or (i64.const {8192 << 32})
          (i64.extend_i32_u (i32.add (local.get $dl) (i32.const {len(prefix) + 1})))))
        (i32.const 2)""", output=prefix)


# Modules that fail in each way the hub must survive, by the event that triggers them.
FAILING = abi_module("""
    (if (i32.eq (i32.load8_u (local.get $ep)) (i32.const 108)) ;; "loop"
      (then (loop $forever (br $forever))))
    (if (i32.eq (i32.load8_u (local.get $ep)) (i32.const 103)) ;; "grab"
      (then (loop $more (drop (memory.grow (i32.const 1))) (br $more))))
    (if (i32.eq (i32.load8_u (local.get $ep)) (i32.const 116)) ;; "trap"
      (then unreachable))
    (if (i32.eq (i32.load8_u (local.get $ep)) (i32.const 106)) ;; "junk": not JSON
      (then (return (i32.const 2))))
    (if (i32.eq (i32.load8_u (local.get $ep)) (i32.const 114)) ;; "refuse"
      (then (return (i32.const 3))))
    (if (i32.eq (i32.load8_u (local.get $ep)) (i32.const 100)) ;; "drop"
      (then (return (i32.const 1))))
    (i32.const 0)""", output="{not json")


def start_hub(hub_factory, tmp_path: Path, namespaces: dict, **kw) -> Hub:
    config = tmp_path / "chorus.json"
    config.write_text(json.dumps({"namespaces": namespaces}))
    return hub_factory(["--config", str(config)], **kw)


@pytest.fixture
def wasm_hub(hub_factory, tmp_path):
    failing = tmp_path / "failing.wat"
    failing.write_text(FAILING)
    return start_hub(hub_factory, tmp_path, {
        "clean": {"transform": str(EXAMPLES / "profanity.wat")},
        "redact": {"transform": str(EXAMPLES / "redact.wat")},
        "enrich": {"transform": str(EXAMPLES / "enrich.wat"), "history_size": 10},
        "fail": {"transform": str(failing), "transform_fuel": 100000, "transform_max_pages": 2},
    })


def without_len(data: dict) -> dict:
    """The enricher's `len` counts the data's bytes as the client serialised them: check it is a
    positive number, then compare the rest."""
    if isinstance(data, dict) and "len" in data:
        assert isinstance(data["len"], int) and data["len"] > 0, data
        data = {k: v for k, v in data.items() if k != "len"}
    return data


async def publish_ws(ws, topic: str, data, event: str = "message", id_: int = 1) -> dict:
    return await roundtrip(ws, {"type": "publish", "id": id_, "topic": topic, "event": event, "data": data})


EXAMPLE_CASES = [
    ("clean:room", {"text": "Darn it, what the heck"}, {"text": "*** it, what the ***"}),
    ("redact:users", {"name": "Ann", "email": "ann@example.com", "card": 4111111111111111},
     {"name": "Ann", "email": "***", "card": "***"}),
    ("enrich:room", {"a": 1}, {"topic": "enrich:room", "a": 1}),
]


@pytest.mark.parametrize("topic,data,expected", EXAMPLE_CASES)
async def test_examples_transform_websocket_publishes(wasm_hub, topic, data, expected):
    async with await ws_connect(wasm_hub.ws(topics=[topic])) as sub, await ws_connect(wasm_hub.ws()) as pub:
        assert (await recv_frame(sub))["type"] == "subscribed"
        ack = await publish_ws(pub, topic, data)
        assert ack["type"] == "ack" and "dropped" not in ack, ack
        message = await recv_type(sub, "message")
        assert without_len(message["data"]) == expected and message["message_id"] == ack["message_id"]


@pytest.mark.parametrize("topic,data,expected", EXAMPLE_CASES)
async def test_examples_transform_http_publishes(wasm_hub, topic, data, expected):
    async with await ws_connect(wasm_hub.ws(topics=[topic])) as sub, wasm_hub.http() as http:
        assert (await recv_frame(sub))["type"] == "subscribed"
        r = await http.post("/api/publish", json={"topic": topic, "data": data})
        assert r.status_code == 200, r.text
        assert without_len((await recv_type(sub, "message"))["data"]) == expected


async def test_clean_messages_pass_unchanged_and_history_keeps_transformed_data(wasm_hub):
    async with await ws_connect(wasm_hub.ws(topics=["clean:room"])) as sub, wasm_hub.http() as http:
        assert (await recv_frame(sub))["type"] == "subscribed"
        r = await http.post("/api/publish", json={"topic": "clean:room", "data": {"text": "all good"}})
        assert r.status_code == 200
        assert (await recv_type(sub, "message"))["data"] == {"text": "all good"}
        r = await http.post("/api/publish", json={"topic": "enrich:hist", "data": {"b": 2}})
        assert r.status_code == 200 and r.json()["offset"] == 1, r.text
        r = await http.get("/api/topics/enrich%3Ahist/history")
        assert [without_len(m["data"]) for m in r.json()["messages"]] == [{"topic": "enrich:hist", "b": 2}], r.text


async def test_a_drop_is_acknowledged_as_dropped_and_never_delivered(wasm_hub):
    async with await ws_connect(wasm_hub.ws(topics=["fail:a"])) as sub, await ws_connect(wasm_hub.ws()) as pub, \
            wasm_hub.http() as http:
        assert (await recv_frame(sub))["type"] == "subscribed"
        ack = await publish_ws(pub, "fail:a", {"n": 1}, event="drop")
        assert ack["type"] == "ack" and ack["dropped"] is True, ack
        r = await http.post("/api/publish", json={"topic": "fail:a", "event": "drop", "data": 2})
        assert r.status_code == 200 and r.json()["dropped"] is True, r.text
        await publish_ws(pub, "fail:a", {"n": 3}, id_=2)
        message = await recv_type(sub, "message")
        assert message["data"] == {"n": 3}, message


FAILURES = [
    ("loop", "the transform failed: out of fuel (the limit is 100000)", "fuel"),
    ("grab", "the transform failed: memory.grow to 3 pages refused: the limit is 2 pages", "memory"),
    ("trap", "the transform failed: unreachable", "trap"),
    ("junk", "the transform's data is not JSON", "bad_output"),
    ("refuse", "the transform refused the message: {not json", "error"),
]


@pytest.mark.parametrize("event,reason,outcome", FAILURES)
async def test_failures_refuse_that_publish_only(wasm_hub, event, reason, outcome):
    async with await ws_connect(wasm_hub.ws(topics=["fail:b", "plain:b"])) as sub, \
            await ws_connect(wasm_hub.ws()) as pub, wasm_hub.http() as http:
        await recv_frame(sub), await recv_frame(sub)
        error = await publish_ws(pub, "fail:b", {"n": 1}, event=event)
        assert error["type"] == "error" and error["code"] == "transform_failed", error
        assert error["message"].startswith(reason), error
        r = await http.post("/api/publish", json={"topic": "fail:b", "event": event, "data": 1})
        assert r.status_code == 422 and r.json()["error"]["code"] == "transform_failed", r.text
        # The connection, the namespace and other topics carry on.
        await publish_ws(pub, "plain:b", {"n": 2}, id_=2)
        await publish_ws(pub, "fail:b", {"n": 3}, id_=3)
        assert [(await recv_type(sub, "message"))["data"] for _ in range(2)] == [{"n": 2}, {"n": 3}]
        metrics = parse_metrics((await http.get("/metrics")).text)
        assert metrics[f'chorus_transform_calls_total{{namespace="fail",outcome="{outcome}"}}'] == 2
    assert wasm_hub.running


@pytest.mark.parametrize("namespaces,message", [
    ({"x": {"transform": "/nonexistent/t.wasm"}}, "namespace 'x': transform: /nonexistent/t.wasm: cannot read the file"),
    ({"x": {"transform": "BAD"}}, "does not export the function 'chorus_abi_version'"),
    ({"x": {"transform": "GOOD", "transform_fuel": 0}}, "namespace 'x': transform_fuel must be a whole number from 1"),
])
def test_a_module_that_cannot_load_stops_the_start(tmp_path, namespaces, message):
    (tmp_path / "bad.wat").write_text('(module (memory (export "memory") 1))')
    for options in namespaces.values():
        options["transform"] = {"BAD": str(tmp_path / "bad.wat"), "GOOD": str(EXAMPLES / "enrich.wat")}.get(
            options["transform"], options["transform"])
    (tmp_path / "chorus.json").write_text(json.dumps({"namespaces": namespaces}))
    with pytest.raises(HubStartError) as failure:
        Hub(["--config", str(tmp_path / "chorus.json")]).start()
    assert message in str(failure.value)


async def test_sighup_reloads_with_a_publisher_running(hub_factory, tmp_path):
    """Every message is delivered once, wrapped by exactly one version; versions never go back."""
    module = tmp_path / "wrap.wat"
    module.write_text(wrapper_module(1))
    hub = start_hub(hub_factory, tmp_path, {"wrap": {"transform": str(module)}})
    count = 400
    async with await ws_connect(hub.ws(topics=["wrap:t"])) as sub, await ws_connect(hub.ws()) as pub:
        assert (await recv_frame(sub))["type"] == "subscribed"

        async def publish_all():
            for n in range(count):
                await send(pub, {"type": "publish", "id": n, "topic": "wrap:t", "data": {"n": n}})
                if n == count // 3:
                    module.write_text(wrapper_module(2))
                    os.kill(hub.pid, signal.SIGHUP)
                await asyncio.sleep(0.002)
            acks = [await recv_frame(pub) for _ in range(count)]
            assert all(a["type"] == "ack" for a in acks), [a for a in acks if a["type"] != "ack"][:3]

        publisher = asyncio.create_task(publish_all())
        received = [(await recv_type(sub, "message", timeout=10))["data"] for _ in range(count)]
        await publisher
    assert [m["d"] for m in received] == [{"n": n} for n in range(count)]
    versions = [m["v"] for m in received]
    assert versions == sorted(versions) and versions[0] == 1 and versions[-1] == 2, versions
    assert "transform reloaded" in hub.stderr


async def test_a_changed_file_is_reloaded_and_a_broken_one_keeps_the_old(hub_factory, tmp_path):
    module = tmp_path / "wrap.wat"
    module.write_text(wrapper_module(1))
    hub = start_hub(hub_factory, tmp_path, {"wrap": {"transform": str(module)}})
    async with await ws_connect(hub.ws(topics=["wrap:t"])) as sub, await ws_connect(hub.ws()) as pub:
        assert (await recv_frame(sub))["type"] == "subscribed"

        async def version() -> int:
            await publish_ws(pub, "wrap:t", 0)
            return (await recv_type(sub, "message"))["data"]["v"]

        assert await version() == 1
        module.write_text("(module broken")
        await wait_for(lambda: "transform reload failed" in hub.stderr, what="the failed reload in the log")
        assert "not valid WebAssembly text" in hub.stderr
        assert await version() == 1
        module.write_text(wrapper_module(3))
        os.utime(module, (time.time() + 5, time.time() + 5))

        async def reloaded():
            return await version() == 3
        await wait_for(reloaded, what="version 3")


@pytest.mark.parametrize("example,data,printed", [
    ("profanity.wat", '{"text":"heck"}', 'data: {"text":"***"}'),
    ("redact.wat", '{"email":"a@b.c"}', 'data: {"email":"***"}'),
    ("enrich.wat", '{}', 'data: {"len":2,"topic":"check:sample"}'),
])
def test_wasm_check_runs_each_example(example, data, printed):
    result = run_cli("wasm", "check", str(EXAMPLES / example), "--data", data)
    assert result.returncode == 0, result.stderr
    assert "follows the transform ABI (version 1)" in result.stdout
    assert "outcome: replace" in result.stdout and printed in result.stdout, result.stdout


def test_wasm_check_reports_bad_modules_and_failures(tmp_path):
    bad = tmp_path / "bad.wat"
    bad.write_text('(module (memory (export "memory") 1))')
    result = run_cli("wasm", "check", str(bad))
    assert result.returncode == 2
    assert f"{bad}: does not export the function 'chorus_abi_version'" in result.stderr
    failing = tmp_path / "failing.wat"
    failing.write_text(FAILING)
    result = run_cli("wasm", "check", str(failing), "--event", "loop", "--fuel", "5000")
    assert result.returncode == 1
    assert "outcome: fuel" in result.stdout and "transform_failed: the transform failed: out of fuel" in result.stdout
    result = run_cli("wasm", "check", str(tmp_path / "missing.wasm"))
    assert result.returncode == 2 and "cannot read the file" in result.stderr


def test_bench_transform_reports_the_cost_per_message():
    result = run_cli("bench", "transform", str(EXAMPLES / "enrich.wat"), "--messages", "200", "--warmup", "10")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["mode"] == "transform" and report["messages"] == 200
    for key in ("with_transform_us", "without_transform_us", "transform_cost_us"):
        assert set(report[key]) == {"p50", "p99"}, report
    assert report["with_transform_us"]["p50"] > 0

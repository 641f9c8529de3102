"""Event-bus consumers behind a WebAssembly transform (docs/event-bus.md, "Transforms"), with a
real hub and a real webhook endpoint: the profanity example cleans what the endpoint receives;
a module that drops an event type keeps those events from the endpoint and out of the
dead-letter queue; a trapping module sends the event to the dead-letter queue after its retries;
consumers made by the API load modules too, and a bad one is refused with 400. The counters are
on /metrics with their HELP text, and the exposition passes promtool.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time

from conftest import parse_metrics, wait_for
from test_events import SECRET, FailingEndpoint, consumers_arg, get, publish, verified
from test_wasm import EXAMPLES, abi_module

# Drops events whose type (the ABI's topic) ends in "spam"; traps on data that is a JSON string
# (its first byte is '"'); keeps the rest.
SORTER = abi_module("""
    (if (i32.eq (i32.load8_u (local.get $dp)) (i32.const 34)) (then unreachable))
    (i32.eq (i32.load (i32.sub (i32.add (local.get $tp) (local.get $tl)) (i32.const 4))) (i32.const 0x6d617073))""")


def hook(name: str, url: str, **extra) -> dict:
    return {"name": name, "types": ["chat.*"], "retry": [0.1, 0.1], "target": {"webhook": {"url": url, "secrets": [SECRET]}}, **extra}


async def test_webhook_consumers_behind_transforms_get_clean_events_drops_skip_and_traps_dead_letter(hub_factory, tmp_path):
    sorter = tmp_path / "sorter.wat"
    sorter.write_text(SORTER)
    clean, sorted_ = FailingEndpoint(status=204), FailingEndpoint(status=204)
    try:
        h = hub_factory(consumers_arg(
            hook("clean", clean.url, transform=str(EXAMPLES / "profanity.wat")),
            hook("sorted", sorted_.url, transform=str(sorter), transform_fuel=100000),
        ))
        await publish(h, {"type": "chat.said", "data": {"text": "well heck, a darn fine idea"}, "event_id": "rude"})
        await publish(h, {"type": "chat.said", "data": {"text": "hello"}, "event_id": "polite"})
        await publish(h, {"type": "chat.spam", "data": {"text": "buy now"}, "event_id": "spam"})
        await publish(h, {"type": "chat.said", "data": "boom", "event_id": "trap"})

        # The profanity filter's consumer: every event, its data cleaned; the trap module is not its.
        await wait_for(lambda: len(clean.requests) >= 4, timeout=15, what="the clean consumer's four deliveries")
        got = {e["event_id"]: e["data"] for e in map(verified, clean.requests)}
        assert got == {"rude": {"text": "well ***, a *** fine idea"}, "polite": {"text": "hello"},
                       "spam": {"text": "buy now"}, "trap": "boom"}

        # The sorter's consumer: the spam is dropped, the string traps every attempt.
        async def dead():
            return (await get(h, "/api/events/dlq", consumer="sorted"))["dead_letters"]
        letters = await wait_for(dead, timeout=15, what="the trapped event in the dead-letter queue")
        assert [letter["event"]["event_id"] for letter in letters] == ["trap"]
        assert [a["error"] for a in letters[0]["attempts"]] == ["transform_failed: the transform failed: unreachable"] * 3

        async def settled():
            stats = await get(h, "/api/events/stats")
            consumer = next(c for c in stats["consumers"] if c["name"] == "sorted")
            return consumer if consumer["pending"] == 0 and consumer["delivered"] == 2 else None
        consumer = await wait_for(settled, timeout=15, what="the sorter's deliveries counted")
        assert consumer["filtered"] == 1 and consumer["dead_letters"] == 1 and consumer["failed"] == 3
        assert sorted(verified(r)["event_id"] for r in sorted_.requests) == ["polite", "rude"]
        assert (await get(h, "/api/events/dlq", consumer="clean"))["dead_letters"] == []

        async with h.http() as c:
            text = (await c.get("/metrics")).text
        samples = parse_metrics(text)
        assert samples['chorus_event_transform_calls_total{consumer="sorted",outcome="drop"}'] == 1
        assert samples['chorus_event_transform_calls_total{consumer="sorted",outcome="trap"}'] == 3
        assert samples['chorus_event_transform_calls_total{consumer="clean",outcome="replace"}'] == 1
        assert samples['chorus_event_deliveries_total{consumer="sorted",outcome="filtered"}'] == 1
        assert "# HELP chorus_event_transform_calls_total " in text and "# HELP chorus_event_deliveries_total " in text
        promtool = shutil.which("promtool")
        assert promtool, "promtool is missing: scripts/test installs it (Debian package prometheus)"
        result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"promtool check metrics:\n{result.stdout}{result.stderr}"
    finally:
        clean.close()
        sorted_.close()


async def test_api_consumers_load_transforms_reload_them_and_refuse_bad_ones(hub_factory, tmp_path):
    module = tmp_path / "sorter.wat"
    module.write_text(SORTER)
    endpoint = FailingEndpoint(status=204)
    try:
        h = hub_factory()
        async with h.http() as c:
            r = await c.put("/api/events/consumers/api", json={k: v for k, v in hook("api", endpoint.url, transform=str(module)).items() if k != "name"})
            assert r.status_code == 200, r.text
            assert r.json()["transform"] == str(module) and r.json()["source"] == "api"
            for body, status, message in [
                ({"transform": "/nonexistent/m.wat"}, 404, "consumer 'bad': transform: /nonexistent/m.wat: no such file on the hub"),
                ({"transform": "/etc/passwd"}, 400, "consumer 'bad': 'transform' must be the path of a .wasm or .wat file on the hub"),
                ({"transform": str(tmp_path)}, 400, "consumer 'bad': 'transform' must be the path of a .wasm or .wat file on the hub"),
                ({"transform": str(module), "transform_max_pages": 0}, 400, "consumer 'bad': 'transform_max_pages' must be a whole number from 1 to 65536"),
            ]:
                r = await c.put("/api/events/consumers/bad", json={"types": ["chat.*"], "target": {"handler": "h"}, **body})
                code = "not_found" if status == 404 else "bad_request"
                assert r.status_code == status and r.json()["error"] == {"code": code, "message": message}, (body, r.text)
            bad = tmp_path / "broken.wat"
            bad.write_text("(module")
            r = await c.put("/api/events/consumers/bad", json={"types": ["chat.*"], "target": {"handler": "h"}, "transform": str(bad)})
            assert r.status_code == 400 and "not valid WebAssembly text" in r.json()["error"]["message"], r.text
        await publish(h, {"type": "chat.spam", "data": 1, "event_id": "s1"})
        await publish(h, {"type": "chat.said", "data": 1, "event_id": "k1"})
        await wait_for(lambda: len(endpoint.requests) >= 1, timeout=10, what="the kept event")
        # A module that keeps everything replaces the file: picked up without a restart.
        module.write_text(abi_module("(i32.const 0)"))
        await wait_for(lambda: "transform reloaded" in h.stderr, timeout=10, what="the reload in the log")
        await publish(h, {"type": "chat.spam", "data": 2, "event_id": "s2"})
        await wait_for(lambda: len(endpoint.requests) >= 2, timeout=10, what="the spam kept by the new module")
        time.sleep(0.3)
        assert [verified(r)["event_id"] for r in endpoint.requests] == ["k1", "s2"]

        # SIGHUP reloads every module, changed or not.
        async def reloads() -> float:
            async with h.http() as c:
                return parse_metrics((await c.get("/metrics")).text).get(
                    'chorus_event_transform_reloads_total{consumer="api",result="reloaded"}', 0)
        before = await reloads()
        h.signal(signal.SIGHUP)

        async def counted():
            return await reloads() > before
        await wait_for(counted, timeout=10, what="the reload SIGHUP asked for")
    finally:
        endpoint.close()

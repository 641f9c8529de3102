"""`chorus events` against a real hub: publish, tail, stats, the dead-letter queue, replay, and
clear errors (exit 1 when the hub says no, 2 when the command is misused)."""

from __future__ import annotations

import json
import subprocess

from conftest import chorus_bin, clean_env, wait_for
from test_events import SECRET, FailingEndpoint, consumers_arg


def events(h, *args: str, code: int = 0) -> subprocess.CompletedProcess:
    done = subprocess.run([chorus_bin(), "events", *args, "--url", h.url], capture_output=True, text=True, timeout=60, env=clean_env())
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    return done


async def test_publish_tail_stats_dlq_and_replay(hub_factory):
    endpoint = FailingEndpoint(status=503)
    try:
        hook = {"name": "hook", "types": ["order.*"], "retry": [0.1], "target": {"webhook": {"url": endpoint.url, "secrets": [SECRET]}}}
        h = hub_factory(consumers_arg(hook))
        first = json.loads(events(h, "publish", "order.created", '{"id": 1}', "--event-id", "o-1", "--partition-key", "c-1").stdout)
        assert first["event_id"] == "o-1" and first["duplicate"] is False
        again = json.loads(events(h, "publish", "order.created", '{"id": 1}', "--event-id", "o-1").stdout)
        assert again["duplicate"] is True and again["sequence"] == first["sequence"]
        # DATA that is not JSON is sent as a string.
        events(h, "publish", "note.added", "hello there")

        lines = events(h, "tail", "--from-start", "--count", "2").stdout.splitlines()
        tailed = [json.loads(line) for line in lines]
        assert [e["type"] for e in tailed] == ["order.created", "note.added"]
        assert tailed[0]["data"] == {"id": 1} and tailed[0]["partition_key"] == "c-1" and tailed[1]["data"] == "hello there"
        only = [json.loads(line) for line in events(h, "tail", "--from-start", "--count", "1", "--topic", "note.*").stdout.splitlines()]
        assert [e["type"] for e in only] == ["note.added"]

        def dead_letters():
            listed = json.loads(events(h, "dlq", "list", "--consumer", "hook").stdout)["dead_letters"]
            return listed or None
        letters = await wait_for(dead_letters, timeout=15, what="the dead letter")
        assert letters[0]["event"]["event_id"] == "o-1" and len(letters[0]["attempts"]) == 2
        stats = json.loads(events(h, "stats").stdout)
        assert stats["published"] == 2 and stats["dlq_size"] == 1
        assert json.loads(events(h, "dlq", "retry", "--id", str(letters[0]["id"])).stdout) == {"retried": 1}
        await wait_for(dead_letters, timeout=15, what="the dead letter again")
        assert json.loads(events(h, "dlq", "clear", "--consumer", "hook").stdout) == {"cleared": 1}
        replayed = json.loads(events(h, "replay", "--from", str(first["timestamp"]), "--to", str(first["timestamp"] + 1), "--consumer", "hook").stdout)
        assert replayed == {"replayed": {"hook": 1}}
    finally:
        endpoint.close()


async def test_errors_exit_1_with_the_hubs_message_and_misuse_exits_2(hub_factory):
    h = hub_factory(["--event-schemas", json.dumps({"order.created": {"type": "object", "required": ["id"]}})])
    refused = events(h, "publish", "order.created", '{"total": 3}', code=1)
    assert "HTTP 422 invalid_event" in refused.stderr and 'at "": missing required property "id"' in refused.stderr, refused.stderr
    missing = events(h, "replay", "--from", "0", "--to", "1", "--consumer", "nobody", code=1)
    assert "HTTP 404 not_found: no consumer named 'nobody'" in missing.stderr, missing.stderr
    for args, message in [
        (["dlq", "retry"], "give exactly one of --id"),
        (["dlq", "retry", "--id", "x"], "--id needs a dead letter's id"),
        (["stats", "--limit", "3"], "--limit does not apply to this command"),
        (["tail", "--count", "0"], "--count needs a whole number of at least 1"),
        (["replay", "--from", "1"], "replay needs --from and --to"),
        (["sideways"], "give one of: publish TYPE DATA"),
    ]:
        done = events(h, *args, code=2)
        assert message in done.stderr and "Fatal error" not in done.stderr, (args, done.stderr)
    unreachable = subprocess.run([chorus_bin(), "events", "stats", "--url", "http://127.0.0.1:1"], capture_output=True, text=True, timeout=60, env=clean_env())
    assert unreachable.returncode == 1 and "cannot reach the hub at http://127.0.0.1:1" in unreachable.stderr, unreachable.stderr

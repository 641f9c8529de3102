"""WebSocket clients publishing events on the bus (`event_publish`, docs/protocol.md "Events";
the rule in docs/event-bus.md, "From WebSocket clients"): allowed only to clients with a user
and for the types `events_client_types` lists; answered by `ack` with the receipt (a repeated
`event_id` is a duplicate), or by `error` (`forbidden`, `bad_request`, `invalid_event` with the
schema's violations, as over HTTP)."""

from __future__ import annotations

import json

from conftest import hs256, roundtrip, ws_connect, ws_connect_as

SECRET = "event-publish-secret-of-32-bytes-at-least!"
API_KEY = "event-publish-key"
SCHEMA = {"type": "object", "required": ["room"], "properties": {"room": {"type": "string"}}}
ARGS = ["--jwt-secret", SECRET, "--api-key", API_KEY, "--allow-anonymous", "true",
        "--events-client-types", "chat.*,game.**", "--event-schemas", json.dumps({"chat.typing": SCHEMA})]


async def test_an_allowed_client_gets_the_receipt_and_a_repeat_is_a_duplicate_stamped_with_its_user(hub_factory):
    h = hub_factory(ARGS)
    async with await ws_connect_as(h.ws(), hs256(SECRET, "alice"), "alice") as ws:
        frame = {"type": "event_publish", "id": 1, "event_type": "chat.typing", "data": {"room": "r1"},
                 "event_id": "t-1", "partition_key": "r1", "correlation_id": "c-1"}
        ack = await roundtrip(ws, frame)
        assert ack["type"] == "ack" and ack["id"] == 1 and ack["event_id"] == "t-1" and ack["duplicate"] is False, ack
        assert isinstance(ack["sequence"], int) and isinstance(ack["timestamp"], int)
        again = await roundtrip(ws, {**frame, "id": 2})
        assert again["duplicate"] is True and again["sequence"] == ack["sequence"] and again["timestamp"] == ack["timestamp"]
        deep = await roundtrip(ws, {"type": "event_publish", "id": 3, "event_type": "game.move.made", "data": [1, 2]})
        assert deep["type"] == "ack" and deep["event_id"].startswith("evt_") and deep["sequence"] > ack["sequence"]
    async with h.http(headers={"Authorization": f"Bearer {API_KEY}"}) as c:
        log = (await c.get("/api/events/log", params={"topic": "chat.typing"})).json()["events"]
    assert len(log) == 1
    event = log[0]
    assert event["data"] == {"room": "r1"} and event["partition_key"] == "r1" and event["correlation_id"] == "c-1"
    assert event["headers"] == {"chorus-user": "alice"}


async def test_types_not_listed_anonymous_clients_and_hubs_without_the_option_are_refused(hub_factory):
    h = hub_factory(ARGS)
    async with await ws_connect_as(h.ws(), hs256(SECRET, "alice"), "alice") as ws:
        for event_type in ["order.created", "chat", "chat.typing.deep"]:
            reply = await roundtrip(ws, {"type": "event_publish", "id": 1, "event_type": event_type, "data": {"room": "r"}})
            assert reply["type"] == "error" and reply["code"] == "forbidden" and reply["id"] == 1, (event_type, reply)
            assert "events_client_types" in reply["message"]
    async with await ws_connect(h.ws()) as ws:
        reply = await roundtrip(ws, {"type": "event_publish", "id": 2, "event_type": "chat.typing", "data": {"room": "r"}})
        assert reply["type"] == "error" and reply["code"] == "forbidden" and "user" in reply["message"], reply
    plain = hub_factory(["--jwt-secret", SECRET, "--api-key", API_KEY])
    async with await ws_connect_as(plain.ws(), hs256(SECRET, "alice"), "alice") as ws:
        reply = await roundtrip(ws, {"type": "event_publish", "id": 3, "event_type": "chat.typing", "data": {}})
        assert reply["type"] == "error" and reply["code"] == "forbidden" and "events_client_types" in reply["message"], reply
    off = hub_factory(["--jwt-secret", SECRET, "--api-key", API_KEY, "--events", "false"])
    async with await ws_connect_as(off.ws(), hs256(SECRET, "alice"), "alice") as ws:
        reply = await roundtrip(ws, {"type": "event_publish", "id": 4, "event_type": "chat.typing", "data": {}})
        assert reply["type"] == "error" and reply["code"] == "unknown_type", reply
    # Nothing refused reached the log.
    async with h.http(headers={"Authorization": f"Bearer {API_KEY}"}) as c:
        assert (await c.get("/api/events/stats")).json()["published"] == 0


async def test_schema_violations_and_bad_frames_get_error_frames_like_the_http_api(hub_factory):
    h = hub_factory(ARGS)
    async with await ws_connect_as(h.ws(), hs256(SECRET, "alice"), "alice") as ws:
        bad = await roundtrip(ws, {"type": "event_publish", "id": 1, "event_type": "chat.typing", "data": {"room": 5}})
        assert bad["type"] == "error" and bad["code"] == "invalid_event" and bad["id"] == 1, bad
        assert bad["violations"] == [{"instance_location": "/room", "keyword_location": "/properties/room/type", "message": "expected string, got integer"}]
        missing = await roundtrip(ws, {"type": "event_publish", "id": 2, "event_type": "chat.typing", "data": {}})
        assert missing["code"] == "invalid_event" and missing["violations"][0]["keyword_location"] == "/required"
        for frame in [
            {"type": "event_publish", "id": 3, "data": {}},                                           # no event_type
            {"type": "event_publish", "id": 3, "event_type": "chat.typing"},                          # no data
            {"type": "event_publish", "id": 3, "event_type": "chat.x", "data": 1, "event_id": ""},
            {"type": "event_publish", "id": 3, "event_type": "chat.x", "data": 1, "event_id": "e" * 129},
            {"type": "event_publish", "id": 3, "event_type": "chat.x", "data": 1, "partition_key": 7},
            {"type": "event_publish", "id": 3, "event_type": "chat.x", "data": 1, "colour": "red"},
        ]:
            reply = await roundtrip(ws, frame)
            assert reply["type"] == "error" and reply["code"] == "bad_request" and reply["id"] == 3, (frame, reply)
        # The connection is still usable.
        ok = await roundtrip(ws, {"type": "event_publish", "id": 4, "event_type": "chat.x", "data": None})
        assert ok["type"] == "ack", ok

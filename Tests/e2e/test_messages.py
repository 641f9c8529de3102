"""The messages resource with real hub processes (docs/event-bus.md, "The messages resource"):
`POST/GET /api/messages`, `GET/PATCH/DELETE /api/messages/{id}`; each change an event on the bus,
bridged by the built-in `messages` consumer to `messages`, `messages.user.{sender}`,
`messages.user.{recipient}` and `messages.channel.{channel}`, where WebSocket subscribers get it;
paging and filters, who may do what, JSON errors, and a `kill -9` that loses no acknowledged
message nor its event."""

from __future__ import annotations

import json

from conftest import bearer, hs256, recv_frame, recv_type, roundtrip, subscribe, wait_for, ws_connect, ws_connect_as

SECRET = "messages-test-secret-of-32-bytes-at-least!"
API_KEY = "messages-test-key"
ADMIN = {"Authorization": f"Bearer {API_KEY}"}
ARGS = ["--jwt-secret", SECRET, "--api-key", API_KEY, "--messages", "true"]


def as_user(user: str, **claims) -> dict[str, str]:
    return bearer(hs256(SECRET, user, **claims))


async def call(h, method: str, path: str, status: int, headers=ADMIN, **kw) -> dict:
    async with h.http() as c:
        r = await c.request(method, path, headers=headers, **kw)
    assert r.status_code == status, (method, path, r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), r.headers
    return r.json()


async def next_message(ws) -> dict:
    return await recv_type(ws, "message")


async def test_each_change_reaches_the_websocket_subscribers_of_every_topic_it_is_bridged_to(hub_factory):
    h = hub_factory(ARGS)
    # A user's topic is read by that user alone (user_scoped_under: "user"); the others by anyone with a user.
    readers = {"messages": "carol", "messages.user.alice": "alice", "messages.user.bob": "bob", "messages.channel.general": "carol"}
    sockets = {}
    for topic, reader in readers.items():
        ws = await ws_connect_as(h.ws(), hs256(SECRET, reader), reader)
        await subscribe(ws, topic)
        sockets[topic] = ws
    try:
        # A direct message, sent by a backend for alice: messages, alice's and bob's topics.
        dm = await call(h, "POST", "/api/messages", 201, json={"sender_id": "alice", "recipient_id": "bob", "text": "hi bob", "metadata": {"k": 1}})
        assert dm["id"].startswith("msg_") and dm["sender"] == "alice" and dm["recipient_id"] == "bob" and dm["version"] == 1
        assert dm["text"] == "hi bob" and dm["metadata"] == {"k": 1} and dm["deleted"] is False and "channel_id" not in dm
        for topic in ["messages", "messages.user.alice", "messages.user.bob"]:
            m = await next_message(sockets[topic])
            assert m["topic"] == topic and m["event"] == "message.sent", m
            assert m["data"]["type"] == "message.sent" and m["data"]["event_id"] == dm["id"] + ".v1"
            assert m["data"]["data"] == dm
        # A channel message, sent by alice herself with her token: messages, alice's topic, the channel.
        sent = await call(h, "POST", "/api/messages", 201, headers=as_user("alice"), json={"channel_id": "general", "text": "hello all"})
        assert sent["sender"] == "alice" and sent["channel_id"] == "general" and sent["sequence"] > dm["sequence"]
        for topic in ["messages", "messages.user.alice", "messages.channel.general"]:
            m = await next_message(sockets[topic])
            assert m["topic"] == topic and m["data"]["data"]["id"] == sent["id"] and m["data"]["type"] == "message.sent"
        # Update and delete reach the same topics, in order.
        edited = await call(h, "PATCH", f"/api/messages/{sent['id']}", 200, headers=as_user("alice"), json={"text": "hello everyone"})
        assert edited["text"] == "hello everyone" and edited["version"] == 2 and edited["updated_at"] >= edited["created_at"]
        deleted = await call(h, "DELETE", f"/api/messages/{sent['id']}", 200, headers=as_user("alice"))
        assert deleted["deleted"] is True and deleted["text"] == "" and deleted["version"] == 3
        for topic in ["messages", "messages.user.alice", "messages.channel.general"]:
            updated, gone = await next_message(sockets[topic]), await next_message(sockets[topic])
            assert updated["event"] == "message.updated" and updated["data"]["data"]["text"] == "hello everyone"
            assert gone["event"] == "message.deleted" and gone["data"]["data"]["deleted"] is True
        # bob's topic got nothing of the channel's: its next message is a new direct one.
        await call(h, "POST", "/api/messages", 201, json={"sender_id": "carol", "recipient_id": "bob", "text": "2"})
        assert (await next_message(sockets["messages.user.bob"]))["data"]["data"]["text"] == "2"
        await call(h, "GET", f"/api/messages/{sent['id']}", 404)
    finally:
        for ws in sockets.values():
            await ws.close()
    # The bridge is a consumer like any other, built in: it shows in the stats, and is caught up.
    async def caught_up():
        stats = await call(h, "GET", "/api/events/stats", 200)
        bridge = [c for c in stats["consumers"] if c["name"] == "messages"]
        return bridge and bridge[0]["lag"] == 0 and bridge[0]["dead_letters"] == 0
    await wait_for(caught_up, what="the messages bridge caught up")
    log = await call(h, "GET", "/api/events/log", 200, params={"topic": "message.*", "limit": 10})
    assert sorted(e["type"] for e in log["events"]) == ["message.deleted", "message.sent", "message.sent", "message.sent", "message.updated"]


async def test_only_the_bridge_publishes_to_the_messages_namespace_and_anonymous_clients_do_not_read_it(hub_factory):
    h = hub_factory([*ARGS, "--allow-anonymous", "true"])
    async with await ws_connect_as(h.ws(), hs256(SECRET, "alice"), "alice") as ws:
        reply = await roundtrip(ws, {"type": "publish", "topic": "messages.channel.general", "data": {"text": "forged"}, "id": 1})
        assert reply["type"] == "error" and reply["code"] == "forbidden", reply
        # Another user's topic is refused; a pattern over every user's topic gets alice's only.
        reply = await roundtrip(ws, {"type": "subscribe", "topic": "messages.user.bob", "id": 3})
        assert reply["type"] == "error" and reply["code"] == "forbidden", reply
        await subscribe(ws, "messages.user.*")
        await call(h, "POST", "/api/messages", 201, json={"sender_id": "carol", "recipient_id": "bob", "text": "for bob"})
        await call(h, "POST", "/api/messages", 201, json={"sender_id": "carol", "recipient_id": "alice", "text": "for alice"})
        m = await next_message(ws)
        assert m["topic"] == "messages.user.alice" and m["data"]["data"]["text"] == "for alice", m
    async with await ws_connect(h.ws()) as ws:
        reply = await roundtrip(ws, {"type": "subscribe", "topic": "messages", "id": 2})
        assert reply["type"] == "error" and reply["code"] == "forbidden", reply


async def test_listing_pages_newest_first_and_filters_by_channel_and_user(hub_factory):
    h = hub_factory(ARGS)
    ids = []
    for n in range(5):
        ids.append((await call(h, "POST", "/api/messages", 201, json={"sender_id": "alice", "channel_id": "general", "text": f"g{n}"}))["id"])
    await call(h, "POST", "/api/messages", 201, json={"sender_id": "bob", "channel_id": "random", "text": "r"})
    await call(h, "POST", "/api/messages", 201, json={"sender_id": "bob", "recipient_id": "alice", "text": "dm"})
    await call(h, "POST", "/api/messages", 201, json={"sender_id": "carol", "recipient_id": "dave", "text": "other"})

    seen, before = [], None
    while True:
        params = {"channel_id": "general", "limit": 2, **({"before": before} if before else {})}
        page = await call(h, "GET", "/api/messages", 200, params=params)
        seen += [m["id"] for m in page["messages"]]
        assert len(page["messages"]) <= 2
        before = page["next_before"]
        if before is None:
            break
    assert seen == list(reversed(ids))

    everything = await call(h, "GET", "/api/messages", 200)
    assert [m["text"] for m in everything["messages"]] == ["other", "dm", "r", "g4", "g3", "g2", "g1", "g0"] and everything["next_before"] is None
    bob = await call(h, "GET", "/api/messages", 200, params={"user_id": "bob"})
    assert [m["text"] for m in bob["messages"]] == ["dm", "r"]
    # A client lists its own: what it sent or received directly (and channels it names).
    mine = await call(h, "GET", "/api/messages", 200, headers=as_user("alice"))
    assert [m["text"] for m in mine["messages"]] == ["dm", "g4", "g3", "g2", "g1", "g0"]
    assert [m["text"] for m in (await call(h, "GET", "/api/messages", 200, headers=as_user("dave")))["messages"]] == ["other"]
    await call(h, "GET", "/api/messages", 403, headers=as_user("alice"), params={"user_id": "bob"})
    # A client reads one message it is a party to, or of a channel it may read.
    dm = mine["messages"][0]
    assert (await call(h, "GET", f"/api/messages/{dm['id']}", 200, headers=as_user("bob")))["text"] == "dm"
    await call(h, "GET", f"/api/messages/{dm['id']}", 404, headers=as_user("carol"))
    await call(h, "GET", f"/api/messages/{ids[0]}", 404, headers=as_user("carol", subscribe=["messages.channel.random"]))
    assert (await call(h, "GET", f"/api/messages/{ids[0]}", 200, headers=as_user("carol")))["text"] == "g0"


async def test_bad_input_and_refusals_get_json_errors(hub_factory):
    h = hub_factory(ARGS)
    sent = await call(h, "POST", "/api/messages", 201, json={"sender_id": "alice", "channel_id": "general", "text": "x"})
    for body, status, code in [
        ({"sender_id": "alice", "text": "x"}, 400, "bad_request"),                                   # no channel nor recipient
        ({"sender_id": "alice", "channel_id": "a", "recipient_id": "b", "text": "x"}, 400, "bad_request"),
        ({"sender_id": "alice", "channel_id": "general"}, 400, "bad_request"),                      # no text
        ({"sender_id": "alice", "channel_id": "general", "text": ""}, 400, "bad_request"),
        ({"sender_id": "alice", "channel_id": "general", "text": "x" * 16385}, 400, "bad_request"),
        ({"sender_id": "alice", "channel_id": "gen*", "text": "x"}, 400, "bad_request"),
        ({"sender_id": "alice", "channel_id": "a..b", "text": "x"}, 400, "bad_request"),
        ({"sender_id": "alice", "channel_id": "general", "text": "x", "colour": "red"}, 400, "bad_request"),
        ({"sender_id": "alice", "channel_id": "general", "text": "x", "metadata": [1]}, 400, "bad_request"),
        ({"sender_id": "alice", "channel_id": "general", "text": "x", "metadata": {"k": "v" * 5000}}, 413, "too_large"),
        ({"sender_id": 7, "channel_id": "general", "text": "x"}, 400, "bad_request"),
    ]:
        error = (await call(h, "POST", "/api/messages", status, json=body))["error"]
        assert error["code"] == code and error["message"], (body, error)
    assert (await call(h, "POST", "/api/messages", 400, content=b"{not json"))["error"]["code"] == "bad_request"
    # The API key without sender_id sends as the server side.
    assert (await call(h, "POST", "/api/messages", 201, json={"channel_id": "general", "text": "x"}))["sender"] == "server"
    assert (await call(h, "GET", "/api/messages", 401, headers={}))["error"]["code"] == "unauthorized"
    assert (await call(h, "POST", "/api/messages", 401, headers={}, json={"channel_id": "g", "text": "x"}))["error"]["code"] == "unauthorized"
    for params in [{"limit": 0}, {"limit": 201}, {"limit": "x"}, {"before": "x"}, {"before": -1}]:
        assert (await call(h, "GET", "/api/messages", 400, params=params))["error"]["code"] == "bad_request", params
    # Clients: as themselves only, into channels their token may read; only the sender changes a message.
    await call(h, "POST", "/api/messages", 403, headers=as_user("bob"), json={"sender_id": "alice", "channel_id": "general", "text": "x"})
    await call(h, "POST", "/api/messages", 403, headers=as_user("bob", subscribe=["messages.channel.random"]), json={"channel_id": "general", "text": "x"})
    await call(h, "POST", "/api/messages", 201, headers=as_user("bob", subscribe=["messages.channel.random"]), json={"channel_id": "random", "text": "x"})
    await call(h, "PATCH", f"/api/messages/{sent['id']}", 403, headers=as_user("bob"), json={"text": "mine now"})
    await call(h, "DELETE", f"/api/messages/{sent['id']}", 403, headers=as_user("bob"))
    await call(h, "PATCH", f"/api/messages/{sent['id']}", 400, json={})
    await call(h, "PATCH", f"/api/messages/{sent['id']}", 400, json={"sender_id": "bob"})
    await call(h, "PATCH", "/api/messages/msg_nobody", 404, json={"text": "y"})
    await call(h, "DELETE", "/api/messages/msg_nobody", 404)
    await call(h, "GET", "/api/messages/msg_nobody", 404)
    # PATCH metadata: set, then null removes it; a deleted message is gone for good.
    assert (await call(h, "PATCH", f"/api/messages/{sent['id']}", 200, json={"metadata": {"pinned": True}}))["metadata"] == {"pinned": True}
    assert "metadata" not in (await call(h, "PATCH", f"/api/messages/{sent['id']}", 200, json={"metadata": None}))
    await call(h, "DELETE", f"/api/messages/{sent['id']}", 200)
    await call(h, "DELETE", f"/api/messages/{sent['id']}", 404)
    await call(h, "PATCH", f"/api/messages/{sent['id']}", 404, json={"text": "back"})


async def test_a_hub_without_the_resource_answers_404_and_messages_needs_the_bus(hub_factory):
    h = hub_factory(["--jwt-secret", SECRET, "--api-key", API_KEY])
    assert (await call(h, "GET", "/api/messages", 404))["error"]["code"] == "not_found"
    from conftest import HubStartError
    try:
        hub_factory([*ARGS, "--events", "false"])
    except HubStartError as error:
        assert "messages needs the event bus" in str(error)
    else:
        raise AssertionError("the hub started with messages and no bus")


async def test_kill9_loses_no_acknowledged_message_nor_its_event(restartable_hub, tmp_path):
    r = restartable_hub(ARGS, cwd=tmp_path)
    h = r.start()
    sent = []
    for n in range(20):
        sent.append(await call(h, "POST", "/api/messages", 201, json={"sender_id": "alice", "channel_id": "general", "text": f"m{n}"}))
    edited = await call(h, "PATCH", f"/api/messages/{sent[0]['id']}", 200, json={"text": "edited"})
    r.kill9()
    h = r.start()
    for message in sent[1:]:
        assert await call(h, "GET", f"/api/messages/{message['id']}", 200) == message
    assert await call(h, "GET", f"/api/messages/{sent[0]['id']}", 200) == edited
    # Every change's event is on the bus, exactly once (the outbox republishes nothing twice).
    log = await call(h, "GET", "/api/events/log", 200, params={"topic": "message.*", "limit": 100})
    ids = sorted(e["event_id"] for e in log["events"])
    assert ids == sorted([m["id"] + ".v1" for m in sent] + [sent[0]["id"] + ".v2"])


async def test_in_a_cluster_messages_live_in_postgresql_and_survive_kill9(postgres_server, restartable_hub, tmp_path):
    url = postgres_server.create_database("messages")
    r = restartable_hub(ARGS, cwd=tmp_path, env={"CHORUS_POSTGRES_URL": url, "CHORUS_POSTGRES_POOL_SIZE": "4"})
    h = r.start()
    async with await ws_connect_as(h.ws(), hs256(SECRET, "bob"), "bob") as ws:
        await subscribe(ws, "messages.user.bob")
        sent = await call(h, "POST", "/api/messages", 201, json={"sender_id": "alice", "recipient_id": "bob", "text": "via postgres"})
        m = await next_message(ws)
        assert m["data"]["data"] == sent
    assert postgres_server.psql(f"SELECT text FROM chorus_messages WHERE id = '{sent['id']}'", "messages") == "via postgres"
    r.kill9()
    h = r.start()
    assert await call(h, "GET", f"/api/messages/{sent['id']}", 200) == sent
    assert [m["id"] for m in (await call(h, "GET", "/api/messages", 200, params={"user_id": "bob"}))["messages"]] == [sent["id"]]

"""Presence and WebRTC in the /demo page: two headless Chromium browsers (Selenium) on one hub
whose ``demo`` namespace has presence. Both see each other in the member list; a status change
is seen by the other; a WebRTC data channel, negotiated through the hub's ``signal`` frames,
carries messages both ways and survives an ICE restart; both sides calling at once (glare)
still connect; a fake camera delivers a video track; after a hub restart both pages join again. Screenshots go to ``test-artifacts/``.

WebRTC between the two browsers needs no STUN server: they reach each other on this machine's
host candidates (UDP on its non-loopback address; Chromium gathers no loopback candidates).
Chromium hides host addresses behind mDNS names (``….local``) until a page has camera
permission; those resolve only where multicast DNS works, so the browsers run with
``--disable-features=WebRtcHideLocalIpsWithMdns`` and exchange plain addresses.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import Hub
from test_browser import DemoPage, page_errors, screenshot, start_chromium, wait_until

NAMESPACES = json.dumps({"demo": {"history_size": 1000, "history_ttl": "24h", "presence": True}})
WEBRTC_FLAGS = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                "--disable-features=WebRtcHideLocalIpsWithMdns")
PEER_WAIT = 20.0   # ICE and DTLS between two browsers on a busy machine

MEMBERS_JS = """
return [...document.querySelectorAll('#members [data-testid=member]')].map((li) => ({
  name: li.dataset.name, status: li.dataset.status, client: li.dataset.client, mine: li.dataset.mine === 'true',
  initials: li.querySelector('.avatar').textContent,
}));
"""


@pytest.fixture(scope="module")
def browsers():
    """``browsers(name)``: a Chromium session with fake media, started on first use."""
    sessions: dict[str, Any] = {}

    def get(name: str):
        if name not in sessions:
            sessions[name] = start_chromium(*WEBRTC_FLAGS)
        return sessions[name]

    yield get
    for driver in sessions.values():
        driver.quit()


def members(page: DemoPage) -> list[dict]:
    return page.driver.execute_script(MEMBERS_JS)


def wait_members(page: DemoPage, names: set[str]) -> list[dict]:
    return page.wait(lambda: (shown := members(page)) and {m["name"] for m in shown} == names and shown,
                     f"the member list is not {names}: {members(page)}")


def peer_state(page: DemoPage) -> str | None:
    return page.driver.execute_script(
        "const p = document.getElementById('peer'); return p.hidden ? null : p.dataset.state")


def peer_messages(page: DemoPage) -> list[tuple[str, bool]]:
    return [tuple(m) for m in page.driver.execute_script(
        "return [...document.querySelectorAll('#peer-messages li')].map((li) => [li.textContent, li.dataset.mine === 'true'])")]


def peer_stats(page: DemoPage) -> dict:
    return page.driver.execute_script(
        "const c = window.chorusDemo.peer.connection; return c ? {...c.stats, polite: c.polite} : null")


def send_peer(page: DemoPage, text: str) -> None:
    field = page.driver.find_element("id", "peer-input")
    field.send_keys(text)
    page.driver.find_element("css selector", "[data-testid=peer-send]").click()


def two_pages(hub: Hub, browsers) -> tuple[DemoPage, DemoPage]:
    alice = DemoPage(browsers("alice"), "Alice").open(hub, "Alice")
    bob = DemoPage(browsers("bob"), "Bob").open(hub, "Bob")
    wait_members(alice, {"Alice", "Bob"})
    wait_members(bob, {"Alice", "Bob"})
    return alice, bob


def client_of(page: DemoPage, name: str) -> str:
    return next(m["client"] for m in members(page) if m["name"] == name)


def chat_with(page: DemoPage, name: str) -> None:
    page.driver.find_element(
        "css selector", f"#members [data-testid=member][data-name='{name}'] [data-testid=peer-chat]").click()


def wait_open(*pages: DemoPage) -> None:
    for page in pages:
        page.wait(lambda: peer_state(page) == "open",
                  f"the data channel never opened (peer state {peer_state(page)!r}; log {page.log_lines()[-5:]})",
                  PEER_WAIT)


@pytest.fixture
def hub(hub_factory) -> Hub:
    return hub_factory(["--namespaces", NAMESPACES])


def test_both_see_each_other_and_a_status_change(hub, browsers):
    alice, bob = two_pages(hub, browsers)
    shown = {m["name"]: m for m in members(alice)}
    assert shown["Alice"]["mine"] and not shown["Bob"]["mine"], shown
    assert shown["Bob"]["initials"] == "BO" and shown["Bob"]["status"] == "online", shown
    assert alice.driver.find_element("id", "people-count").text == "· 2"

    # Alice turns busy with the status picker: Bob's list shows it.
    alice.driver.execute_script(
        "const s = document.getElementById('presence-status'); s.value = 'busy'; s.dispatchEvent(new Event('change'))")
    bob.wait(lambda: {m["name"]: m["status"] for m in members(bob)}.get("Alice") == "busy",
             f"Bob does not see Alice busy: {members(bob)}")
    bob.wait_log("Alice is now busy")
    screenshot(bob.driver, "presence-bob-sees-alice-busy")

    # Bob leaves (closes the page): Alice's list drops him.
    bob.driver.get("about:blank")
    wait_members(alice, {"Alice"})
    assert page_errors(alice.driver) == []


def test_after_a_hub_restart_both_join_again_with_their_status(restartable_hub, browsers, tmp_path):
    hubs = restartable_hub(["--namespaces", NAMESPACES], cwd=tmp_path)
    hub = hubs.start()
    alice, bob = two_pages(hub, browsers)
    alice.driver.execute_script(
        "const s = document.getElementById('presence-status'); s.value = 'away'; s.dispatchEvent(new Event('change'))")
    bob.wait(lambda: {m["name"]: m["status"] for m in members(bob)}.get("Alice") == "away", "Bob does not see Alice away")
    before = {m["name"]: m["client"] for m in members(bob)}

    hubs.kill9()
    hubs.start()
    for page in (alice, bob):
        page.wait_status("connected", 20.0)
    # New connections, new client ids: each page joined again by itself, with its last meta.
    for page in (alice, bob):
        shown = page.wait(lambda: (now := members(page)) and len(now) == 2
                          and {m["client"] for m in now}.isdisjoint(before.values()) and now,
                          f"the list after the restart is {members(page)}")
        assert {m["name"]: m["status"] for m in shown} == {"Alice": "away", "Bob": "online"}, shown
    assert page_errors(alice.driver) == [] and page_errors(bob.driver) == []


def test_a_data_channel_through_the_hubs_signalling_carries_messages_both_ways(hub, browsers):
    alice, bob = two_pages(hub, browsers)
    chat_with(alice, "Bob")
    wait_open(alice, bob)
    assert bob.driver.execute_script("return document.getElementById('peer-name').textContent") == "Alice"

    send_peer(alice, "hello Bob, peer to peer")
    bob.wait(lambda: ("hello Bob, peer to peer", False) in peer_messages(bob), f"Bob got {peer_messages(bob)}")
    send_peer(bob, "hello Alice")
    alice.wait(lambda: ("hello Alice", False) in peer_messages(alice), f"Alice got {peer_messages(alice)}")
    assert peer_messages(alice) == [("hello Bob, peer to peer", True), ("hello Alice", False)]
    for page in (alice, bob):
        stats = peer_stats(page)
        assert (stats["messagesSent"], stats["messagesReceived"]) == (1, 1), stats
        assert stats["dataChannels"] == 1, stats
    # The messages went browser to browser, not through the hub.
    assert not [m for m in hub.http_sync().get("/api/topics/demo%3Alobby/history").json()["messages"]
                if "peer to peer" in json.dumps(m)]
    totals = alice.driver.execute_script("return window.chorusDemo.PeerConnection.stats")
    assert totals["created"] == 1 and totals["active"] == 1, totals
    screenshot(alice.driver, "presence-alice-peer-chat")
    screenshot(bob.driver, "presence-bob-peer-chat")

    # An ICE restart (what a failed ICE connection triggers by itself): new ICE credentials are
    # negotiated through the hub, and the channel still carries messages.
    ufrag = "return window.chorusDemo.peer.connection.connection.localDescription.sdp.match(/a=ice-ufrag:(\\S+)/)[1]"
    before = alice.driver.execute_script(ufrag)
    alice.driver.execute_script("window.chorusDemo.peer.connection.restartIce()")
    alice.wait(lambda: alice.driver.execute_script(ufrag) != before and alice.driver.execute_script(
        "return window.chorusDemo.peer.connection.connection.signalingState") == "stable", "no ICE restart", PEER_WAIT)
    assert peer_stats(alice)["iceRestarts"] == 1
    send_peer(bob, "after the ICE restart")
    alice.wait(lambda: ("after the ICE restart", False) in peer_messages(alice), f"Alice got {peer_messages(alice)}")

    # Closing one side closes the other.
    alice.driver.find_element("id", "peer-close").click()
    bob.wait(lambda: peer_state(bob) is None, "Bob's peer panel stayed after Alice closed")
    assert page_errors(alice.driver) == [] and page_errors(bob.driver) == []


HOLD_SIGNALS_JS = """
const client = window.chorusDemo.client;
const send = client.send.bind(client);
window.heldSignals = [];
client.send = (frame, options) => frame.type === 'signal' && window.heldSignals
  ? new Promise((resolve, reject) => window.heldSignals.push(() => send(frame, options).then(resolve, reject)))
  : send(frame, options);
"""
RELEASE_SIGNALS_JS = "const held = window.heldSignals; window.heldSignals = null; held.forEach((go) => go());"


def test_glare_both_call_at_once_and_still_connect(hub, browsers):
    alice, bob = two_pages(hub, browsers)
    # Both pages hold their outgoing signals, both call, and once each has made its offer both
    # are let go: each offer reaches a side that has an offer of its own out.
    for page, other in ((alice, "Bob"), (bob, "Alice")):
        page.driver.execute_script(HOLD_SIGNALS_JS)
    alice.driver.execute_script("window.chorusDemo.startPeer(arguments[0], 'Bob')", client_of(alice, "Bob"))
    bob.driver.execute_script("window.chorusDemo.startPeer(arguments[0], 'Alice')", client_of(bob, "Alice"))
    for page in (alice, bob):
        page.wait(lambda: page.driver.execute_script("return window.heldSignals.length") >= 1, "no offer was made")
    for page in (alice, bob):
        page.driver.execute_script(RELEASE_SIGNALS_JS)
    wait_open(alice, bob)
    stats = {page.who: peer_stats(page) for page in (alice, bob)}
    polite = next(s for s in stats.values() if s["polite"])
    impolite = next(s for s in stats.values() if not s["polite"])
    assert polite["rollbacks"] == 1 and impolite["ignoredOffers"] == 1, stats
    send_peer(bob, "after the glare")
    alice.wait(lambda: ("after the glare", False) in peer_messages(alice), f"Alice got {peer_messages(alice)}")
    send_peer(alice, "both ways")
    bob.wait(lambda: ("both ways", False) in peer_messages(bob), f"Bob got {peer_messages(bob)}")
    screenshot(bob.driver, "presence-bob-after-glare")
    assert page_errors(alice.driver) == [] and page_errors(bob.driver) == []


def test_a_fake_camera_delivers_a_video_track(hub, browsers):
    alice, bob = two_pages(hub, browsers)
    chat_with(alice, "Bob")
    wait_open(alice, bob)
    alice.driver.find_element("id", "peer-call").click()
    bob.wait(lambda: bob.driver.execute_script(
        "const v = document.getElementById('remote-video'); return v.dataset.live === 'video' && v.videoWidth > 0"),
        "Bob's remote video never played", PEER_WAIT)
    bob.wait_log("Receiving Alice's video")
    width = bob.driver.execute_script("return document.getElementById('remote-video').videoWidth")
    assert width > 0
    screenshot(alice.driver, "presence-alice-camera")
    screenshot(bob.driver, "presence-bob-receives-video")
    assert page_errors(alice.driver) == [] and page_errors(bob.driver) == []


def test_on_a_hub_without_presence_the_panel_says_so(hub_factory, browsers):
    hub = hub_factory(["--namespaces", "{}"])  # `chorus serve` has presence in demo: turn it off
    page = DemoPage(browsers("alice"), "Alice").open(hub, "Alice")
    page.wait_log("Presence is off on this hub")
    wait_until(page.driver, lambda: page.driver.find_element("id", "presence-note").is_displayed(), "no presence note")
    assert members(page) == []
    page.send("chat still works")
    page.wait_texts(["chat still works"])
    assert page_errors(page.driver) == []

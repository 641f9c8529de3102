"""The /demo chat and the /dashboard in a real headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by Selenium), against real hub processes.

Three browser sessions are shared by the module (Alice's and Bob's demo pages, and a viewer for
the dashboard), and each test starts its own hub. Every wait is a ``WebDriverWait`` on a DOM
condition. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
import shutil
import urllib.parse
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from conftest import SECRET, Hub, hs256

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

WAIT = 10.0          # seconds for anything that should happen promptly
RECONNECT_WAIT = 20.0  # a restarted hub plus the page's backoff (base 0.5 s, cap 5 s)


# --------------------------------------------------------------------------------------------
# Browser sessions
# --------------------------------------------------------------------------------------------

def start_chromium(*extra: str) -> WebDriver:
    """A headless Chromium session; ``extra``: more command-line switches."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,800", "--force-device-scale-factor=1",
                     "--disable-background-timer-throttling", "--no-first-run", *extra):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager must not try to download anything.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(WAIT)
    return driver


@pytest.fixture(scope="module")
def browsers():
    """``browsers(name)``: the module's browser session of that name, started on first use."""
    sessions: dict[str, WebDriver] = {}

    def get(name: str) -> WebDriver:
        if name not in sessions:
            sessions[name] = start_chromium()
        return sessions[name]

    yield get
    for driver in sessions.values():
        driver.quit()


def wait_until(driver: WebDriver, condition: Callable[[], Any], message: str, timeout: float = WAIT) -> Any:
    """Polls ``condition`` until it returns something truthy; fails with ``message``. The pages
    re-render lists and tables, so an element that went stale (or is not there yet) means "not
    yet", not a failure."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.05,
                             ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)
                             ).until(lambda _: condition())
    except TimeoutException:
        pytest.fail(f"{message} (waited {timeout} s)")


def screenshot(driver: WebDriver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"browser-{name}.png"
    assert driver.save_screenshot(str(path)), f"could not save {path}"
    return path


def page_errors(driver: WebDriver) -> list[dict]:
    """JavaScript errors and console.error calls since the last call (network failures, such as
    the refused WebSocket connections while the hub is down, are expected and left out)."""
    return [entry for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE" and entry.get("source") in ("javascript", "console-api")]


# --------------------------------------------------------------------------------------------
# The demo page
# --------------------------------------------------------------------------------------------

MESSAGES_JS = """
return [...document.querySelectorAll('#messages [data-testid=message]')].map((li) => ({
  id: li.dataset.messageId || null,
  offset: li.dataset.offset ? Number(li.dataset.offset) : null,
  state: li.dataset.state,
  name: li.querySelector('[data-testid=message-name]').textContent,
  text: li.querySelector('[data-testid=message-text]').textContent,
  time: li.querySelector('[data-testid=message-time]').textContent,
  mine: li.classList.contains('mine'),
}));
"""


class DemoPage:
    def __init__(self, driver: WebDriver, who: str):
        self.driver = driver
        self.who = who

    def open(self, hub: Hub, name: str) -> "DemoPage":
        self.driver.get(f"{hub.url}/demo")
        field = self.driver.find_element(By.ID, "name")
        # As a person would: select the random default name and type over it.
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(name, Keys.ENTER)
        self.wait(lambda: self.driver.execute_script("return window.chorusDemo?.state.name") == name,
                  f"{self.who}'s page did not take the name {name!r}")
        self.wait_status("connected")
        return self

    def wait(self, condition: Callable[[], Any], message: str, timeout: float = WAIT) -> Any:
        return wait_until(self.driver, condition, f"{self.who}: {message}", timeout)

    # -- reading ----------------------------------------------------------------------------

    def status(self) -> tuple[str, str]:
        badge = self.driver.find_element(By.ID, "status")
        return badge.get_attribute("data-state"), badge.text

    def wait_status(self, state: str, timeout: float = WAIT) -> str:
        self.wait(lambda: self.status()[0] == state,
                  f"status never became {state!r} (it is {self.status()})", timeout)
        return self.status()[1]

    def messages(self) -> list[dict]:
        return self.driver.execute_script(MESSAGES_JS)

    def texts(self) -> list[str]:
        return [m["text"] for m in self.messages()]

    def wait_texts(self, wanted: list[str], timeout: float = WAIT) -> list[dict]:
        """Waits until every text in ``wanted`` is shown as a message the hub confirmed."""
        def shown():
            messages = self.messages()
            confirmed = [m["text"] for m in messages if m["state"] == "sent" and m["id"]]
            return messages if all(text in confirmed for text in wanted) else None
        return self.wait(shown, f"messages {wanted} not all shown as sent; shown: {self.messages()}", timeout)

    def typing_line(self) -> str:
        return self.driver.find_element(By.ID, "typing").text

    def log_lines(self) -> list[str]:
        return self.driver.execute_script("return [...document.querySelectorAll('#event-log li')].map((li) => li.innerText)")

    def wait_log(self, fragment: str, timeout: float = WAIT) -> str:
        def found():
            return next((line for line in self.log_lines() if fragment in line), None)
        return self.wait(found, f"no event log line with {fragment!r}; log: {self.log_lines()}", timeout)

    # -- acting -----------------------------------------------------------------------------

    def type(self, text: str) -> None:
        self.driver.find_element(By.ID, "message-input").send_keys(text)

    def send(self, text: str) -> None:
        self.driver.find_element(By.ID, "message-input").send_keys(text, Keys.ENTER)

    def room(self, room: str) -> None:
        button = f"[data-testid=room-{room}]"
        self.wait(lambda: self.driver.find_element(By.CSS_SELECTOR, button).click() or True, f"cannot click {button}")
        self.wait(lambda: self.driver.find_element(By.CSS_SELECTOR, button).get_attribute("aria-current") == "true",
                  f"room {room} not selected")

    def unread(self, room: str) -> str:
        return self.driver.execute_script(
            "return document.querySelector(arguments[0])?.textContent ?? null", f"[data-testid=unread-{room}]")


def history(hub: Hub, topic: str) -> list[dict]:
    response = httpx.get(f"{hub.url}/api/topics/{urllib.parse.quote(topic, safe='')}/history",
                         params={"limit": 1000}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def publish(hub: Hub, topic: str, data: Any, event: str = "chat") -> dict:
    response = httpx.post(f"{hub.url}/api/publish", json={"topic": topic, "event": event, "data": data}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def assert_same_conversation(alice: DemoPage, bob: DemoPage, hub: Hub, expected_texts: list[str]) -> list[dict]:
    """Both pages show the same messages, in the same order, each once, as the hub stored them."""
    mine, theirs = alice.messages(), bob.messages()
    ids = [m["id"] for m in mine]
    assert all(m["state"] == "sent" for m in mine + theirs), (mine, theirs)
    assert ids == [m["id"] for m in theirs], f"the pages disagree:\nAlice {mine}\nBob   {theirs}"
    assert len(set(ids)) == len(ids), f"a message is shown twice: {mine}"
    assert sorted(m["text"] for m in mine) == sorted(expected_texts), mine
    offsets = [m["offset"] for m in mine]
    assert offsets == sorted(offsets), f"not in the hub's order: {mine}"
    stored = history(hub, "demo:lobby")
    assert ids == [m["message_id"] for m in stored], f"pages {mine}\nhub {stored}"
    return mine


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------

def test_two_people_chat_with_typing_indicator_and_rooms(hub_factory, browsers):
    hub = hub_factory()
    alice = DemoPage(browsers("alice"), "Alice").open(hub, "Alice")
    bob = DemoPage(browsers("bob"), "Bob").open(hub, "Bob")

    # Typing shows up on the other page with the typist's name, before anything is sent.
    alice.type("Hello Bob, how are")
    bob.wait(lambda: bob.typing_line() == "Alice is typing…", f"no typing indicator; line is {bob.typing_line()!r}")
    assert alice.typing_line() == "", "Alice's page shows her own typing"
    screenshot(bob.driver, "demo-bob-sees-alice-typing")

    alice.send(" you?")
    shown = bob.wait_texts(["Hello Bob, how are you?"])
    assert [(m["name"], m["text"], m["mine"]) for m in shown] == [("Alice", "Hello Bob, how are you?", False)]
    assert shown[0]["time"], shown
    # Her message ends the indicator at once (the page does not wait for it to expire).
    bob.wait(lambda: bob.typing_line() == "", "the typing indicator stayed after Alice's message")

    bob.send("Fine, thanks! And you?")
    alice.send("Great.")
    alice.wait_texts(["Hello Bob, how are you?", "Fine, thanks! And you?", "Great."])
    bob.wait_texts(["Great."])
    mine = alice.messages()
    assert [(m["name"], m["mine"]) for m in mine] == [("Alice", True), ("Bob", False), ("Alice", True)], mine
    assert_same_conversation(alice, bob, hub, ["Hello Bob, how are you?", "Fine, thanks! And you?", "Great."])

    # Rooms: Alice posts in #random; Bob, still in #lobby, gets an unread badge, then the message.
    alice.room("random")
    assert alice.messages() == [], "#random shows #lobby's messages"
    alice.send("Anyone in random?")
    bob.wait(lambda: bob.unread("random") == "1", f"no unread badge on #random: {bob.unread('random')!r}")
    bob.room("random")
    assert [m["text"] for m in bob.wait_texts(["Anyone in random?"])] == ["Anyone in random?"]
    # Joining a room of one's own: a new button, selected, and the room in the URL.
    bob.driver.find_element(By.ID, "new-room").send_keys("Dev-Talk", Keys.ENTER)
    bob.wait(lambda: bob.driver.find_element(By.CSS_SELECTOR, "[data-testid=room-dev-talk]")
             .get_attribute("aria-current") == "true", "the new room is not selected")
    assert bob.driver.execute_script("return location.hash") == "#dev-talk"
    assert bob.messages() == []
    bob.room("random")
    assert [m["data"]["text"] for m in history(hub, "demo:random")] == ["Anyone in random?"]

    # A typist who stops is dropped: the page says "stopped typing" after 2 s idle.
    bob.type("let me think")
    alice.wait(lambda: alice.typing_line() == "Bob is typing…", f"no indicator for Bob; {alice.typing_line()!r}")
    alice.wait(lambda: alice.typing_line() == "", "Bob's typing indicator never went away after he stopped")
    screenshot(alice.driver, "demo-alice-chat")
    assert page_errors(alice.driver) == [] and page_errors(bob.driver) == []


def test_hub_killed_and_restarted_loses_and_duplicates_nothing(restartable_hub, browsers, tmp_path):
    hubs = restartable_hub(cwd=tmp_path)     # same --port and data directory across the restart
    hub = hubs.start()
    alice = DemoPage(browsers("alice"), "Alice").open(hub, "Alice")
    bob = DemoPage(browsers("bob"), "Bob").open(hub, "Bob")
    before = ["one", "two", "three from the backend"]
    alice.send("one")
    bob.send("two")
    publish(hub, "demo:lobby", {"name": "Backend", "text": "three from the backend"})
    alice.wait_texts(before)
    bob.wait_texts(before)

    hubs.kill9()
    for page in (alice, bob):
        label = page.wait_status("reconnecting")
        assert "attempt" in label, label
        page.wait_log("Connection lost")
        page.wait_log("Reconnecting: attempt")

    # Typed while the hub is down: shown as queued, counted in the header.
    alice.send("sent while the hub was down")
    alice.wait(lambda: any(m["text"] == "sent while the hub was down" and m["state"] == "queued"
                           for m in alice.messages()), "the offline message is not shown as queued")
    alice.wait(lambda: alice.driver.find_element(By.ID, "queued").text == "1 message queued", "no queued count")
    alice.wait_log("queued and will be sent")
    screenshot(alice.driver, "demo-alice-while-hub-down")

    hub = hubs.start()
    # Published while the pages may still be waiting out their backoff: recovery must bring it.
    publish(hub, "demo:lobby", {"name": "Backend", "text": "published right after the restart"})
    after = before + ["sent while the hub was down", "published right after the restart"]
    for page in (alice, bob):
        page.wait_status("connected", RECONNECT_WAIT)
        page.wait_log("Reconnected after")
        page.wait_log("#lobby recovered")
        page.wait_texts(after)
    alice.wait_log("Sending 1 queued message")
    assert alice.driver.find_element(By.ID, "queued").text == ""
    conversation = assert_same_conversation(alice, bob, hub, after)
    assert [m["text"] for m in conversation][:3] == before, conversation
    screenshot(alice.driver, "demo-alice-after-restart")
    screenshot(bob.driver, "demo-bob-after-restart")

    # A page opened after the restart gets the whole conversation from the hub's stored history.
    bob.driver.refresh()
    bob.wait_status("connected")
    bob.wait_texts(after)
    assert [m["id"] for m in bob.messages()] == [m["id"] for m in conversation]
    assert page_errors(alice.driver) == [] and page_errors(bob.driver) == []


def test_dashboard_shows_connections_topics_rates_and_errors(hub_factory, browsers):
    hub = hub_factory()
    alice = DemoPage(browsers("alice"), "Alice").open(hub, "Alice")
    bob = DemoPage(browsers("bob"), "Bob").open(hub, "Bob")
    viewer = browsers("viewer")
    viewer.get(f"{hub.url}/dashboard")
    text = lambda testid: viewer.execute_script(
        "return document.querySelector(arguments[0])?.innerText ?? ''", f"[data-testid={testid}]")

    wait_until(viewer, lambda: text("connections-websocket") == "2" and text("connections-total") == "2",
               f"dashboard does not show 2 WebSocket connections: {text('connections-total')}")
    assert text("connections-sse") == "0"
    rows = lambda: dict(viewer.execute_script("""
        return [...document.querySelectorAll('[data-testid=topic-row]')].map((row) =>
          [row.dataset.topic, row.querySelector('[data-testid=topic-subscribers]').textContent]);"""))
    wanted = {"demo:lobby": "2", "demo:random": "2", "demo-typing:lobby": "2", "demo-typing:random": "2"}
    wait_until(viewer, lambda: all(rows().get(topic) == count for topic, count in wanted.items()),
               f"topics table {rows()} lacks {wanted}")
    hub_topics = {t["topic"]: str(t["subscribers"]) for t in httpx.get(f"{hub.url}/api/topics").json()["topics"]}
    assert rows() == hub_topics
    transports = viewer.execute_script(
        "return [...document.querySelectorAll('[data-testid=connection-row]')].map((row) => row.dataset.transport)")
    assert transports == ["websocket", "websocket"]
    # One node, this one, with the two demo pages' connections and the id /api/nodes gives it.
    node_rows = lambda: viewer.execute_script("""
        return [...document.querySelectorAll('[data-testid=node-row]')].map((row) =>
          [row.dataset.node, row.querySelector('[data-testid=node-connections]').textContent, row.innerText]);""")
    wait_until(viewer, lambda: len(node_rows()) == 1 and node_rows()[0][1] == "2", f"nodes table: {node_rows()}")
    (node,) = httpx.get(f"{hub.url}/api/nodes").json()["nodes"]
    assert node_rows()[0][0] == node["id"] and "this node" in node_rows()[0][2] and node["address"] in node_rows()[0][2]

    # Traffic for the chart, and one error (a publish to a pattern) for the errors table.
    for i in range(3):
        alice.send(f"chart {i}")
    for i in range(20):
        publish(hub, "demo:lobby", {"name": "Backend", "text": f"load {i}"})
    bad = httpx.post(f"{hub.url}/api/publish", json={"topic": "demo.*", "data": {}}, timeout=10)
    assert bad.status_code == 400, bad.text
    bob.wait_texts([f"load {i}" for i in range(20)])
    wait_until(viewer, lambda: text("error-bad_request") and text("error-bad_request").split()[-1] == "1",
               f"errors table: {text('errors')}")
    # The burst shows in the chart's window (peaks computed from /api/stats deltas), and the
    # legend shows the current rates.
    canvas = viewer.find_element(By.ID, "chart")
    peak = lambda name: float(canvas.get_attribute(f"data-peak-{name}") or 0)
    wait_until(viewer, lambda: peak("published") >= 1 and peak("delivered") >= 1 and
               int(canvas.get_attribute("data-samples")) >= 2,
               f"no traffic in the chart: {canvas.get_attribute('data-samples')} samples, "
               f"peaks {peak('published')}/{peak('delivered')}")
    assert re.fullmatch(r"\d+(\.\d)?", text("rate-published")) and re.fullmatch(r"\d+(\.\d)?", text("rate-delivered"))
    # The lines are drawn: count the pixels of each line's colour.
    counts = viewer.execute_script("""
        const c = document.getElementById('chart');
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const near = (i, [r, g, b]) => Math.abs(px[i] - r) < 40 && Math.abs(px[i + 1] - g) < 40 && Math.abs(px[i + 2] - b) < 40 && px[i + 3] > 200;
        let published = 0, delivered = 0, painted = 0, highest = c.height;
        for (let i = 0; i < px.length; i += 4) {
          if (px[i + 3] > 0) painted++;
          const isPublished = near(i, [59, 91, 219]), isDelivered = near(i, [18, 184, 134]);
          if (isPublished) published++;
          if (isDelivered) delivered++;
          if (isPublished || isDelivered) highest = Math.min(highest, Math.floor(i / 4 / c.width));
        }
        return {published, delivered, painted, total: px.length / 4, highest, height: c.height};
    """)
    assert counts["published"] > 10 and counts["delivered"] > 10, counts
    assert 0 < counts["painted"] < counts["total"], counts
    # The scale's top is the peak rounded up to 1, 2, 2.5 or 5 times a power of ten, so the
    # line of the traffic burst climbs into the upper half of the plot.
    assert counts["highest"] < counts["height"] / 2, counts
    viewer.set_window_size(1280, 1250)    # the whole dashboard in one picture
    screenshot(viewer, "dashboard")
    viewer.set_window_size(1280, 800)
    assert page_errors(viewer) == [] and page_errors(alice.driver) == [] and page_errors(bob.driver) == []


def test_dashboard_asks_for_the_api_key_and_explains_401_and_403(hub_factory, browsers):
    key = "dashboard-e2e-api-key-0123456789"
    hub = hub_factory(["--api-key", key, "--jwt-secret", SECRET])
    viewer = browsers("viewer")
    viewer.get(f"{hub.url}/dashboard")
    banner = lambda: viewer.find_element(By.ID, "error")

    def use(credential: str) -> None:
        field = viewer.find_element(By.ID, "api-key")
        field.clear()
        field.send_keys(credential, Keys.ENTER)

    wait_until(viewer, lambda: banner().is_displayed() and banner().get_attribute("data-status") == "401",
               "no 401 shown without a key")
    assert "enter its API key" in banner().text, banner().text
    screenshot(viewer, "dashboard-401")

    use("not-the-key")
    wait_until(viewer, lambda: "did not accept this API key" in banner().text, f"banner: {banner().text!r}")
    assert banner().get_attribute("data-status") == "401"

    use(hs256(SECRET, "alice"))     # a client token is valid, but not for these endpoints
    wait_until(viewer, lambda: banner().get_attribute("data-status") == "403", f"banner: {banner().text!r}")
    assert "not an API key" in banner().text, banner().text

    use(key)
    wait_until(viewer, lambda: not banner().is_displayed(), f"banner still shown: {banner().text!r}")
    wait_until(viewer, lambda: viewer.find_element(By.ID, "connections-total").text == "0", "no stats")
    assert viewer.execute_script("return sessionStorage.getItem('chorus.dashboard.apiKey')") == key
    # Kept for the browser session: a reload needs no typing.
    viewer.refresh()
    wait_until(viewer, lambda: viewer.find_element(By.ID, "live").get_attribute("data-state") == "ok",
               "the key was not kept across a reload")
    assert not banner().is_displayed()
    assert page_errors(viewer) == []


def test_demo_with_a_client_token_on_a_hub_that_is_not_in_development_mode(hub_factory, browsers):
    key = "demo-e2e-api-key-0123456789abcdef"
    hub = hub_factory(["--api-key", key, "--jwt-secret", SECRET])
    page = DemoPage(browsers("alice"), "Alice")
    page.driver.get(f"{hub.url}/demo?token={hs256(SECRET, 'alice')}&name=Alice")
    page.wait_status("connected")
    page.send("hello with a token")
    assert [(m["name"], m["mine"]) for m in page.wait_texts(["hello with a token"])] == [("Alice", True)]
    # Reloaded, the page gets the room's history over HTTP with the same token as credential.
    page.driver.refresh()
    page.wait_status("connected")
    page.wait_texts(["hello with a token"])
    assert not any("History of" in line for line in page.log_lines()), page.log_lines()

    # The hub ends the user's connections and asks them not to come back: the badge says
    # "Disconnected" and offers to reconnect, which works.
    response = httpx.post(f"{hub.url}/api/users/alice/disconnect", json={"reason": "kicked", "reconnect": False},
                          headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert response.status_code == 202, response.text
    page.wait_status("disconnected")
    assert page.status()[1] == "Disconnected"
    page.wait_log("Connection lost (code 1000: kicked)")
    reconnect = page.driver.find_element(By.ID, "reconnect")
    assert reconnect.is_displayed()
    reconnect.click()
    page.wait_status("connected")
    assert not reconnect.is_displayed()
    assert page_errors(page.driver) == []


def test_demo_without_a_token_on_a_hub_that_needs_one_is_never_connected(hub_factory, browsers):
    """#20: the badge used to turn green while every subscribe was refused. `connected` means
    usable: the client stops with `token_required`, and the page says so in red."""
    hub = hub_factory(["--api-key", "demo-e2e-api-key-0123456789abcdef", "--jwt-secret", SECRET])
    page = DemoPage(browsers("nobody"), "Nobody")
    page.driver.get(f"{hub.url}/demo?name=Nobody")
    page.wait_status("error")
    page.wait_log("Error (token_required)")
    assert not any(line.endswith("Connected.") for line in page.log_lines()), page.log_lines()
    assert page.driver.execute_script("return window.chorusDemo.client.state") == "error"

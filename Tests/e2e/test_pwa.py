"""The service worker (clients/js/chorus-sw.js) and its page side (chorus-pwa.js) in a real
headless Chromium: the demo installs, precaches and opens with the hub stopped; an uncached
navigation gets the offline page; a message typed while the hub is down survives a reload in
the worker's outbox and is delivered once when the hub is back, by the demo's flush or by the
worker's Background Sync event alone (fired through the DevTools protocol); a worker written by
``chorus pwa generate`` for an app on another origin is updated by each update strategy.
``http://127.0.0.1`` is a secure context, so service workers run without TLS. Every wait is on a
browser condition, none is timed, except the one second in which nothing may be delivered.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from conftest import run_cli
from devtools import DevTools
from test_browser import RECONNECT_WAIT, DemoPage, history, page_errors, screenshot, start_chromium, wait_until

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "js"

SERVICE_WORKER_STATE_JS = """
const done = arguments[arguments.length - 1];
(async () => {
  const registration = await navigator.serviceWorker.ready;
  const names = await caches.keys();
  const precache = names.find((name) => name.includes('-precache-'));
  const keys = precache ? (await (await caches.open(precache)).keys()).map((r) => new URL(r.url).pathname) : [];
  done({ active: registration.active?.state ?? null, controlled: !!navigator.serviceWorker.controller,
         caches: names, precached: keys.sort() });
})().catch((error) => done({ error: String(error) }));
"""


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    driver = start_chromium()
    yield driver
    driver.quit()


def worker_state(driver: WebDriver) -> dict[str, Any]:
    state = driver.execute_async_script(SERVICE_WORKER_STATE_JS)
    assert "error" not in state, state
    return state


def test_the_hub_serves_its_worker_for_updates_to_be_found(hub_factory):
    hub = hub_factory()
    response = httpx.get(f"{hub.url}/chorus-sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "no-cache"
    config = json.loads(response.text.split("\n", 1)[0].removeprefix("self.chorusSWConfig = ").removesuffix(";"))
    for entry in config["precache"]:
        assert len(entry["revision"]) == 16, entry
        assert httpx.get(hub.url + entry["url"]).status_code == 200, entry
    manifest = httpx.get(f"{hub.url}/manifest.webmanifest")
    assert manifest.headers["content-type"] == "application/manifest+json"
    assert manifest.json()["start_url"] == "/demo"


def test_pwa_generate_refuses_bad_input_with_a_clear_error(tmp_path):
    (tmp_path / "list.json").write_text("[]")
    (tmp_path / "bad.json").write_text('{"precache": [{"revision": "1"}]}')
    for args, message in [
        ((), "--config is required"),
        (("--config",), "--config needs a value"),
        (("--output", "x"), "unknown option '--output'"),
        (("--config", str(tmp_path / "missing.json")), "cannot read the configuration file"),
        (("--config", str(tmp_path / "list.json")), "must be a JSON object"),
        (("--config", str(tmp_path / "bad.json")), "precache[0] must be a URL"),
    ]:
        result = run_cli("pwa", "generate", *args)
        assert result.returncode != 0 and message in result.stderr, (args, result.stderr)
        assert result.stdout == "", "nothing half-written to the output"
    assert "Usage: chorus pwa generate" in run_cli("pwa").stderr


def open_controlled_demo(driver: WebDriver, hub) -> DemoPage:
    """The demo as Alice, reloaded once its worker is active, so the worker controls it."""
    page = DemoPage(driver, "Alice").open(hub, "Alice")
    wait_until(driver, lambda: worker_state(driver)["active"] == "activated", "the worker never activated")
    driver.refresh()
    page.wait_status("connected")
    assert worker_state(driver)["controlled"]
    return page


def test_demo_installs_precaches_and_opens_offline_with_its_last_messages(hub_factory, browser):
    hub = hub_factory()
    page = DemoPage(browser, "Alice").open(hub, "Alice")
    page.send("written before the hub went away")
    page.wait(lambda: [m["state"] for m in page.messages()] == ["sent"], "the message was not confirmed")

    # First visit: the worker installs, precaches the page and its files, and activates.
    state = wait_until(browser, lambda: (s := worker_state(browser))["active"] == "activated" and s,
                       "the worker never activated")
    assert state["precached"] == ["/demo", "/icon.svg", "/js/chorus-pwa.js", "/js/chorus.js",
                                  "/manifest.webmanifest", "/offline.html"]
    assert "chorus-demo-precache-v1" in state["caches"]
    # Chromium finds nothing missing for installing it as an app.
    installability = browser.execute_cdp_cmd("Page.getInstallabilityErrors", {})
    assert installability["installabilityErrors"] == [], installability
    page.wait(lambda: "written before" in (browser.execute_script(
        "return localStorage.getItem('chorus-demo.snapshot.lobby')") or ""), "the last messages were not kept")

    hub.stop()
    browser.refresh()
    assert browser.execute_script("return !!navigator.serviceWorker.controller"), "the page did not come from the worker"
    page.wait_texts(["written before the hub went away"])
    assert page.status()[0] in ("connecting", "reconnecting")
    assert page_errors(browser) == [], "a script error while offline"
    screenshot(browser, "pwa-offline-demo")

    browser.get(f"{hub.url}/never-visited?x=1")
    wait_until(browser, lambda: browser.find_element(By.CSS_SELECTOR, "[data-testid=offline-page]"),
               "an uncached navigation did not show the offline page")
    assert "You are offline" in browser.find_element(By.TAG_NAME, "h1").text
    screenshot(browser, "pwa-offline-page")


OUTBOX_JS = """
const done = arguments[arguments.length - 1];
const request = indexedDB.open('chorus-demo-outbox');
request.onsuccess = () => {
  const db = request.result;
  if (!db.objectStoreNames.contains('publishes')) { db.close(); done([]); return; }
  const all = db.transaction('publishes').objectStore('publishes').getAll();
  all.onsuccess = () => { db.close(); done(all.result); };
};
request.onerror = () => done(String(request.error));
"""


def flush_outbox(driver: WebDriver) -> Any:
    """Asks the worker to flush its outbox now: its counts, or the error's text."""
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1]; chorusDemo.pwa.flushOutbox().then(done, (e) => done(String(e)));")


def outbox(driver: WebDriver) -> list[dict[str, Any]]:
    """The worker's outbox entries in IndexedDB, in order."""
    entries = driver.execute_async_script(OUTBOX_JS)
    assert isinstance(entries, list), entries
    return entries


def test_a_message_typed_while_the_hub_is_down_is_delivered_once_when_it_is_back(restartable_hub, browser, tmp_path):
    hubs = restartable_hub(cwd=tmp_path)     # same port (so same origin) and data across the restart
    hub = hubs.start()
    page = open_controlled_demo(browser, hub)
    page.send("before the outage")
    page.wait_texts(["before the outage"])

    hubs.stop()
    page.wait(lambda: page.status()[0] == "reconnecting", "the page did not notice the hub was gone")
    page.send("typed while the hub was down")
    queued = wait_until(browser, lambda: [entry["publish"] for entry in outbox(browser)], "the message was not stored")
    assert [p["data"]["text"] for p in queued] == ["typed while the hub was down"]
    assert queued[0]["idempotency_key"] == queued[0]["data"]["cid"]
    browser.refresh()   # the tab goes away meanwhile: the outbox is in IndexedDB, not in the page

    hub = hubs.start()
    page.wait_status("connected", RECONNECT_WAIT)
    wait_until(browser, lambda: [m["data"]["text"] for m in history(hub, "demo:lobby")]
               == ["before the outage", "typed while the hub was down"], "the stored message was not delivered")
    page.wait_texts(["before the outage", "typed while the hub was down"])
    assert outbox(browser) == []
    # Exactly once: a second flush (as a Background Sync retry would do) has nothing left to send.
    flush = flush_outbox(browser)
    assert flush == {"delivered": 0, "rejected": 0, "pending": 0}
    assert [m["data"]["text"] for m in history(hub, "demo:lobby")] == ["before the outage", "typed while the hub was down"]
    assert [m["text"] for m in page.messages()] == ["before the outage", "typed while the hub was down"]


SYNC_NAMESPACES = json.dumps({"demo": {"history_size": 1000, "presence": True, "sync": True}})
TASKS = "demo%3Atasks"

QUEUE_MUTATIONS_JS = """
const [mutations, done] = [arguments[0], arguments[arguments.length - 1]];
(async () => {
  const queued = [];
  for (const mutation of mutations) queued.push(await chorusDemo.pwa.queueMutation(mutation));
  return queued;
})().then(done, (error) => done(String(error)));
"""

RECORD_OUTBOX_REPORTS_JS = """
window.outboxReports = [];
chorusDemo.pwa.on('mutated', ({ mutation, ack }) => outboxReports.push(['mutated', mutation.mutation_id, ack.version]));
chorusDemo.pwa.on('mutationRejected', ({ mutation, error, current }) =>
  outboxReports.push(['rejected', mutation.mutation_id, error.code, current && current.version, current && current.data.title]));
"""


def task(title: str, created: int) -> dict[str, Any]:
    return {"title": title, "done": False, "created": created}


def collection(hub) -> dict[str, Any]:
    response = httpx.get(f"{hub.url}/api/collections/{TASKS}/records", timeout=10)
    response.raise_for_status()
    return response.json()


def test_sync_mutations_made_while_the_hub_is_down_are_applied_once_and_a_conflict_is_reported(restartable_hub, browser, tmp_path):
    hubs = restartable_hub(["--namespaces", SYNC_NAMESPACES], cwd=tmp_path)
    hub = hubs.start()
    page = open_controlled_demo(browser, hub)

    # A record the page saw at version 1, changed by someone else (version 2) before the outage.
    created = httpx.post(f"{hub.url}/api/collections/{TASKS}/records", json={"id": "shared", "data": task("shared", 0)}, timeout=10)
    assert created.status_code == 201, created.text
    changed = httpx.put(f"{hub.url}/api/collections/{TASKS}/records/shared", json={"data": task("changed by Bob", 0)},
                        headers={"If-Match": '"1"'}, timeout=10)
    assert changed.json()["version"] == 2, changed.text

    hubs.stop()
    page.wait(lambda: page.status()[0] == "reconnecting", "the page did not notice the hub was gone")
    mutations = [
        {"collection": "demo:tasks", "op": "insert", "record_id": "a", "data": task("written offline", 1), "mutation_id": "m-a"},
        {"collection": "demo:tasks", "op": "insert", "data": task("no id given", 2), "mutation_id": "m-b"},
        {"collection": "demo:tasks", "op": "update", "record_id": "a", "data": task("edited offline", 1), "mutation_id": "m-a2"},
        {"collection": "demo:tasks", "op": "update", "record_id": "shared", "data": task("stale edit", 0),
         "base_version": 1, "mutation_id": "m-stale"},
    ]
    assert browser.execute_async_script(QUEUE_MUTATIONS_JS, mutations) == [True] * 4
    # Queued twice (a page retrying): stored once.
    assert browser.execute_async_script(QUEUE_MUTATIONS_JS, mutations[:1]) == [True]
    assert [e["kind"] for e in outbox(browser)] == ["mutation"] * 4
    browser.refresh()   # the tab goes away meanwhile: the outbox is in IndexedDB
    page.wait(lambda: browser.execute_script("return !!window.chorusDemo?.pwa"), "the page did not start from the cache")
    browser.execute_script(RECORD_OUTBOX_REPORTS_JS)

    hub = hubs.start()
    page.wait_status("connected", RECONNECT_WAIT)   # the demo flushes the outbox on connecting
    reports = wait_until(browser, lambda: len(r := browser.execute_script("return outboxReports")) == 4 and r,
                         "the outbox was not replayed")
    assert reports == [["mutated", "m-a", 3], ["mutated", "m-b", 4], ["mutated", "m-a2", 5],
                       ["rejected", "m-stale", "conflict", 2, "changed by Bob"]]
    state = collection(hub)
    assert state["version"] == 5, "each replayed mutation is one change on the hub"
    titles = {r["id"]: r["data"]["title"] for r in state["records"]}
    assert titles.pop("a") == "edited offline" and titles.pop("shared") == "changed by Bob"
    assert list(titles.values()) == ["no id given"]
    assert outbox(browser) == []

    # A worker stopped between the hub's answer and the removal replays what was applied: the
    # hub answers from its window of mutation ids and applies nothing again.
    # (Queueing online registers a Background Sync, which Chromium may fire at once: either
    # flush sends them, one after the other, so the reports are what is counted.)
    assert browser.execute_async_script(QUEUE_MUTATIONS_JS, mutations[:3]) == [True] * 3
    assert flush_outbox(browser)["pending"] == 0
    replayed = wait_until(browser, lambda: len(r := browser.execute_script("return outboxReports.slice(4)")) >= 3 and r,
                          "the replays were not answered")
    assert replayed == [["mutated", "m-a", 3], ["mutated", "m-b", 4], ["mutated", "m-a2", 5]]
    assert outbox(browser) == []
    assert collection(hub)["version"] == 5

    # Reopened, the page shows the replayed records.
    browser.refresh()
    page.wait_status("connected")
    browser.find_element(By.CSS_SELECTOR, "[data-testid=tasks-tab]").click()
    shown = wait_until(browser, lambda: len(t := browser.execute_script(
        "return [...document.querySelectorAll('#task-list [data-testid=task-title]')].map((e) => e.value)")) == 3 and t,
        "the task list does not show the replayed records")
    assert sorted(shown) == ["changed by Bob", "edited offline", "no id given"]
    assert page_errors(browser) == []


def test_a_task_added_in_the_demo_while_the_hub_is_down_is_stored_and_applied_once_after_a_reload(restartable_hub, browser, tmp_path):
    hubs = restartable_hub(["--namespaces", SYNC_NAMESPACES], cwd=tmp_path)
    hub = hubs.start()
    page = open_controlled_demo(browser, hub)
    browser.find_element(By.CSS_SELECTOR, "[data-testid=tasks-tab]").click()
    page.wait(lambda: browser.find_element(By.ID, "tasks-status").get_attribute("data-status") == "live", "the task list is not live")

    hubs.stop()
    page.wait(lambda: page.status()[0] == "reconnecting", "the page did not notice the hub was gone")
    browser.find_element(By.ID, "task-input").send_keys("added offline", Keys.ENTER)
    stored = wait_until(browser, lambda: [e["mutation"] for e in outbox(browser) if e["kind"] == "mutation"], "the task was not stored")
    assert [(m["op"], m["data"]["title"]) for m in stored] == [("insert", "added offline")]
    browser.refresh()   # the page, and the collection's memory, go away; the outbox stays

    hub = hubs.start()
    page.wait_status("connected", RECONNECT_WAIT)
    wait_until(browser, lambda: collection(hub)["version"] == 1, "the stored task was not applied")
    state = collection(hub)
    assert [(r["id"], r["data"]["title"]) for r in state["records"]] == [(stored[0]["record_id"], "added offline")]
    assert outbox(browser) == []
    browser.find_element(By.CSS_SELECTOR, "[data-testid=tasks-tab]").click()
    wait_until(browser, lambda: browser.execute_script(
        "return [...document.querySelectorAll('#task-list [data-testid=task-title]')].map((e) => e.value)") == ["added offline"],
        "the reopened page does not show the task")
    assert collection(hub)["version"] == 1, "applied once"


# The outbox as the worker before sync mutations wrote it: IndexedDB version 1, entries keyed
# by the publish's idempotency_key.
WRITE_VERSION_1_OUTBOX_JS = """
const [publish, done] = [arguments[0], arguments[arguments.length - 1]];
const gone = indexedDB.deleteDatabase('chorus-demo-outbox');
gone.onerror = () => done(String(gone.error));
gone.onsuccess = () => {
  const request = indexedDB.open('chorus-demo-outbox', 1);
  request.onupgradeneeded = () => request.result.createObjectStore('publishes', { keyPath: 'seq', autoIncrement: true })
    .createIndex('key', 'publish.idempotency_key', { unique: true });
  request.onsuccess = () => {
    const db = request.result;
    const transaction = db.transaction('publishes', 'readwrite');
    transaction.objectStore('publishes').add({ publish, authorization: null, queuedAt: Date.now() });
    transaction.oncomplete = () => { db.close(); done(true); };
    transaction.onerror = () => done(String(transaction.error));
  };
  request.onerror = () => done(String(request.error));
};
"""


def test_an_outbox_left_by_the_previous_worker_is_upgraded_and_sent(hub_factory, browser):
    hub = hub_factory()
    page = open_controlled_demo(browser, hub)
    # Flushes run one after another in the worker: once this one answers, the demo's own flush
    # on connecting is over, and the next one is the only one to find the old entry.
    assert flush_outbox(browser) == {"delivered": 0, "rejected": 0, "pending": 0}
    publish = {"topic": "demo:lobby", "event": "chat", "data": {"text": "stored by the old worker", "cid": "old-1"},
               "idempotency_key": "old-1"}
    assert browser.execute_async_script(WRITE_VERSION_1_OUTBOX_JS, publish) is True
    assert flush_outbox(browser) == {"delivered": 1, "rejected": 0, "pending": 0}
    assert [m["data"]["text"] for m in history(hub, "demo:lobby")] == ["stored by the old worker"]
    assert outbox(browser) == []


# A page of the hub's origin that runs no script: the worker answers it from its precache, so
# it is controlled (it can ask the worker and read IndexedDB) while nothing in it reconnects to
# the hub or flushes the outbox, as the demo does on connecting.
QUIET_PAGE = "/offline.html"

ASK_WORKER_TO_FLUSH_JS = """
const done = arguments[arguments.length - 1];
const channel = new MessageChannel();
channel.port1.onmessage = (event) => done(event.data);
navigator.serviceWorker.controller.postMessage({ type: 'FLUSH_OUTBOX' }, [channel.port2]);
"""


def sync_log(devtools: DevTools) -> list[tuple[str, dict[str, str]]]:
    """What Chromium logged about Background Sync so far (BackgroundService domain): event names
    with their metadata, in order."""
    devtools.send("Browser.getVersion")   # a round trip: the events sent before its answer are read
    return [(e["params"]["backgroundServiceEvent"]["eventName"],
             {m["key"]: m["value"] for m in e["params"]["backgroundServiceEvent"]["eventMetadata"]})
            for e in devtools.events if e.get("method") == "BackgroundService.backgroundServiceEventReceived"]


def test_what_was_queued_while_the_hub_was_down_is_delivered_once_by_the_workers_sync_event(restartable_hub, browser, tmp_path):
    """Only the worker's `sync` event, fired through the DevTools protocol, sends the outbox here.

    Why nothing else can: the tab has left the demo for a page that runs no script (the demo
    flushes on connecting); and Chromium, which fires a Background Sync as soon as it is
    registered when it believes itself online (it does: only the hub is down), has done so while
    the hub was down, seen the flush fail (waitUntil rejected) and put its retry minutes away
    (its BackgroundService log says so, and the test checks it). `dispatchSyncEvent` dispatches
    straight to the worker, whatever that registration's state."""
    hubs = restartable_hub(["--namespaces", SYNC_NAMESPACES], cwd=tmp_path)
    hub = hubs.start()
    page = open_controlled_demo(browser, hub)
    devtools = DevTools(browser)
    try:
        tab = devtools.attach(lambda t: t["type"] == "page" and t["url"].startswith(f"{hub.url}/demo"))
        devtools.send("BackgroundService.setRecording", {"shouldRecord": True, "service": "backgroundSync"}, session=tab)
        devtools.send("BackgroundService.startObserving", {"service": "backgroundSync"}, session=tab)
        # The tag the worker listens for, as it reads its configuration (web/pwa.json names none).
        worker = devtools.attach(lambda t: t["type"] == "service_worker" and t["url"].startswith(hub.url))
        tag = devtools.evaluate(worker, "ChorusSW.normalizeConfig(self.chorusSWConfig).backgroundSync.tag")
        assert tag == "chorus-publish"

        hubs.stop()
        page.wait(lambda: page.status()[0] == "reconnecting", "the page did not notice the hub was gone")
        page.send("delivered by the sync event")
        mutation = {"collection": "demo:tasks", "op": "insert", "record_id": "bg", "data": task("synced in the background", 1),
                    "mutation_id": "m-bg"}
        assert browser.execute_async_script(QUEUE_MUTATIONS_JS, [mutation]) == [True]
        queued = wait_until(browser, lambda: len(entries := outbox(browser)) == 2 and entries, "the message was not stored")
        assert [e["kind"] for e in queued] == ["publish", "mutation"]
        # Queueing registered the sync, which Chromium fired at once, into a hub that is down (a
        # queue during that event makes it fire once more); the last attempt failed, and the
        # next one is minutes away.
        log = wait_until(browser, lambda: (events := sync_log(devtools)) and events[-1][0] == "sync event failed" and events,
                         "Chromium did not fire (and fail) the registered sync while the hub was down")
        assert ("Registered sync", {}) in log
        assert int(log[-1][1]["Next Attempt Delay (ms)"]) >= 60_000, log

        browser.get(hub.url + QUIET_PAGE)
        wait_until(browser, lambda: browser.execute_script("return !!navigator.serviceWorker.controller"),
                   "the quiet page is not controlled")
        hub = hubs.start()
        # The hub is back and nothing sends: the negative check that lets this test fail.
        time.sleep(1)
        assert history(hub, "demo:lobby") == [] and collection(hub)["version"] == 0
        assert len(outbox(browser)) == 2
        assert sync_log(devtools) == log, "Chromium fired the sync again on its own"

        registration_id = devtools.registration_id(tab, f"{hub.url}/")
        sync_event = {"origin": hub.url, "registrationId": registration_id, "tag": tag, "lastChance": False}
        devtools.send("ServiceWorker.dispatchSyncEvent", sync_event, session=tab)
        wait_until(browser, lambda: collection(hub)["version"] == 1, "the sync event did not apply the mutation")
        assert [m["data"]["text"] for m in history(hub, "demo:lobby")] == ["delivered by the sync event"]
        assert [(r["id"], r["data"]["title"]) for r in collection(hub)["records"]] == [("bg", "synced in the background")]
        assert outbox(browser) == []
        dispatched = ("Dispatched sync event", {"Last Chance": "No"})
        assert sync_log(devtools)[len(log):] == [dispatched]

        # A second sync event finds nothing to send. Once Chromium logs it as dispatched it is on
        # its way to the worker ahead of the page's message, and the worker runs one flush after
        # the other: the flush asked for next answers after the event's.
        devtools.send("ServiceWorker.dispatchSyncEvent", sync_event, session=tab)
        wait_until(browser, lambda: sync_log(devtools)[len(log):] == [dispatched, dispatched],
                   "the second sync event was not dispatched")
        assert browser.execute_async_script(ASK_WORKER_TO_FLUSH_JS) == {"delivered": 0, "rejected": 0, "pending": 0}
        assert [m["data"]["text"] for m in history(hub, "demo:lobby")] == ["delivered by the sync event"]
        assert collection(hub)["version"] == 1
    finally:
        devtools.close()


# --------------------------------------------------------------------------------------------
# An app on another origin, with a worker from `chorus pwa generate`
# --------------------------------------------------------------------------------------------

APP_PAGE = """<!doctype html>
<meta charset="utf-8"><title>app</title>
<script src="/app.js"></script>
<script type="module">
import { registerServiceWorker } from '/chorus-pwa.js';
const events = JSON.parse(sessionStorage.getItem('events') ?? '[]');
const record = (event) => { events.push(event); sessionStorage.setItem('events', JSON.stringify(events)); };
record(`load ${window.APP_VERSION}`);
const strategy = new URLSearchParams(location.search).get('strategy');
window.pwa = registerServiceWorker({ scriptURL: '/sw.js', updateStrategy: strategy });
pwa.on('updateAvailable', () => record(`updateAvailable ${window.APP_VERSION}`));
pwa.on('updated', () => record('updated'));
window.events = events;
</script>
"""


class App:
    """A static app served by Python on its own port (another origin than any hub)."""

    def __init__(self, root: Path):
        self.root = root
        for name in ("chorus.js", "chorus-pwa.js"):
            shutil.copy(CLIENT / name, root / name)
        (root / "index.html").write_text(APP_PAGE)
        (root / "pwa.json").write_text(json.dumps({
            "cachePrefix": "app", "version": "1",
            "precache": ["/index.html", "/app.js", "/chorus.js", "/chorus-pwa.js"],
            "routes": [{"path": "/api/**", "strategy": "network-first"}],
        }))
        handler = functools.partial(NoCacheHandler, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def release(self, version: int) -> None:
        """Writes app.js of this version and regenerates sw.js, as a deploy would: each file is
        replaced whole, so the browser's own update checks never read half a file."""
        self.write("app.js", f"window.APP_VERSION = {version};\n")
        result = run_cli("pwa", "generate", "--config", str(self.root / "pwa.json"), "--root", str(self.root))
        assert result.returncode == 0, result.stderr
        self.write("sw.js", result.stdout)

    def write(self, name: str, text: str) -> None:
        staged = self.root / f".{name}.new"
        staged.write_text(text)
        os.replace(staged, self.root / name)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class NoCacheHandler(http.server.SimpleHTTPRequestHandler):
    """Always the whole file: the base class answers If-Modified-Since by mtime in seconds,
    which would call a worker rewritten within the same second unchanged (304)."""

    def do_GET(self) -> None:
        del self.headers["If-Modified-Since"]
        super().do_GET()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def app(tmp_path) -> Iterator[App]:
    served = App(tmp_path)
    yield served
    served.close()


def events(driver: WebDriver) -> list[str]:
    return driver.execute_script("return JSON.parse(sessionStorage.getItem('events') ?? '[]')")


def wait_events(driver: WebDriver, wanted: list[str], message: str) -> None:
    wait_until(driver, lambda: events(driver) == wanted, f"{message}: events are {events(driver)}")


@pytest.mark.parametrize("strategy", ["manual", "immediate", "on-reload"])
def test_a_generated_worker_is_updated_per_strategy(app, browser, strategy):
    app.release(1)
    browser.get(f"{app.url}/index.html?strategy={strategy}")
    wait_until(browser, lambda: worker_state(browser)["active"] == "activated", "the worker never activated")
    browser.refresh()   # now the page is controlled: what follows is an update, not a first install
    wait_until(browser, lambda: worker_state(browser)["controlled"], "the page is not controlled")
    assert worker_state(browser)["precached"] == ["/app.js", "/chorus-pwa.js", "/chorus.js", "/index.html"]
    wait_events(browser, ["load 1", "load 1"], "the app did not start")
    wait_until(browser, lambda: browser.execute_script("return !!pwa.registration"), "the page did not register")

    app.release(2)
    checked = browser.execute_async_script(
        "const done = arguments[arguments.length - 1]; pwa.update().then(() => done('ok'), (e) => done(String(e)));")
    assert checked == "ok"
    if strategy == "manual":
        wait_events(browser, ["load 1", "load 1", "updateAvailable 1"], "no update was reported")
        assert browser.execute_script("return pwa.waiting?.state") == "installed", "the update did not wait"
        browser.execute_script("pwa.applyUpdate()")
    elif strategy == "on-reload":
        wait_events(browser, ["load 1", "load 1", "updateAvailable 1"], "no update was reported")
        assert browser.execute_script("return pwa.waiting?.state") == "installed", "the update did not wait"
        browser.refresh()   # still version 1, which finds the worker waiting and applies it
    expected = {
        "manual": ["updateAvailable 1", "updated", "load 2"],
        "immediate": ["updateAvailable 1", "updated", "load 2"],
        "on-reload": ["updateAvailable 1", "load 1", "updateAvailable 1", "updated", "load 2"],
    }[strategy]
    wait_events(browser, ["load 1", "load 1", *expected], "the new version did not take over")
    assert browser.execute_script("return window.APP_VERSION") == 2
    # The old revision of app.js left the precache when the new worker activated.
    assert worker_state(browser)["precached"] == ["/app.js", "/chorus-pwa.js", "/chorus.js", "/index.html"]
    cached = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        caches.open('app-precache-v1').then((c) => c.keys()).then((keys) => done(keys.map((r) => r.url)));""")
    assert [url for url in cached if "/app.js" in url] == [
        f"{app.url}/app.js?__chorus_revision={json.loads(first_line_config(app))['precache'][1]['revision']}"]


def first_line_config(app: App) -> str:
    return (app.root / "sw.js").read_text().split("\n", 1)[0].removeprefix("self.chorusSWConfig = ").removesuffix(";")

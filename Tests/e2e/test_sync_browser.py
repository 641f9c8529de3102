"""The /demo page's shared task list (a sync collection, ``demo:tasks``) in two headless Chromium
browsers on one hub whose ``demo`` namespace has ``sync: true``. Both edit the list together;
one goes offline (CDP ``Network.emulateNetworkConditions``), edits, and comes back: both
converge on the hub's records, each offline edit applied once. An edit made offline against a
task the other changed meanwhile is refused by the hub (``conflict``) and rolled back visibly
to the other's version. Screenshots go to ``test-artifacts/``.

Chromium's offline emulation fails new connections but leaves an open WebSocket open; the
page's client ends its connection on the window's ``offline`` event (docs/clients.md,
"Reconnection"), so the page is really offline until the emulation ends.
"""

from __future__ import annotations

import json
import urllib.parse

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from conftest import Hub
from test_browser import RECONNECT_WAIT, DemoPage, browsers, page_errors, screenshot  # noqa: F401 (browsers: the fixture)

NAMESPACES = json.dumps({"demo": {"history_size": 1000, "history_ttl": "24h", "presence": True, "sync": True}})
COLLECTION = "demo:tasks"

TASKS_JS = """
return [...document.querySelectorAll('#task-list [data-testid=task]')].map((li) => ({
  id: li.dataset.id, version: li.dataset.version, pending: li.dataset.pending === 'true',
  done: li.dataset.done === 'true', rolledBack: li.dataset.rolledBack === 'true',
  title: li.querySelector('[data-testid=task-title]').value,
}));
"""

RECORD_SYNC_REPLIES_JS = """
window.syncReplies = [];
window.chorusDemo.client.on('frame', (f) => ['sync_snapshot', 'sync_changes'].includes(f.type) && window.syncReplies.push(f.type));
"""


@pytest.fixture
def hub(hub_factory) -> Hub:
    return hub_factory(["--namespaces", NAMESPACES])


def tasks(page: DemoPage) -> list[dict]:
    return page.driver.execute_script(TASKS_JS)


def shown(page: DemoPage) -> dict[str, tuple[str, bool]]:
    return {t["id"]: (t["title"], t["done"]) for t in tasks(page)}


def hub_records(hub: Hub) -> tuple[int, dict[str, tuple[str, bool]]]:
    response = httpx.get(f"{hub.url}/api/collections/{urllib.parse.quote(COLLECTION, safe='')}/records", timeout=10)
    response.raise_for_status()
    body = response.json()
    return body["version"], {r["id"]: (r["data"]["title"], r["data"]["done"]) for r in body["records"]}


def collection_status(page: DemoPage) -> str | None:
    return page.driver.find_element(By.ID, "tasks-status").get_attribute("data-status")


def open_tasks(page: DemoPage) -> None:
    page.driver.find_element(By.CSS_SELECTOR, "[data-testid=tasks-tab]").click()
    page.wait(lambda: collection_status(page) == "live", f"the task list is not live ({collection_status(page)!r})")


def add(page: DemoPage, title: str) -> None:
    page.driver.find_element(By.ID, "task-input").send_keys(title, Keys.ENTER)


def task_item(page: DemoPage, title: str):
    return next(li for li in page.driver.find_elements(By.CSS_SELECTOR, "#task-list [data-testid=task]")
                if li.find_element(By.CSS_SELECTOR, "[data-testid=task-title]").get_attribute("value") == title)


def rename(page: DemoPage, title: str, new_title: str) -> None:
    field = task_item(page, title).find_element(By.CSS_SELECTOR, "[data-testid=task-title]")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(new_title, Keys.ENTER)   # Enter leaves the field: its change event saves it


def toggle(page: DemoPage, title: str) -> None:
    task_item(page, title).find_element(By.CSS_SELECTOR, "[data-testid=task-done]").click()


def network(page: DemoPage, online: bool) -> None:
    page.driver.execute_cdp_cmd("Network.enable", {})
    page.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": not online, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})


def wait_tasks(page: DemoPage, expected: dict[str, tuple[str, bool]] | set[str], timeout: float = 10.0) -> list[dict]:
    """Waits until the page shows exactly ``expected`` (titles, or id → (title, done)), none pending."""
    def matches():
        now = tasks(page)
        if any(t["pending"] for t in now):
            return None
        if isinstance(expected, set):
            return now if sorted(t["title"] for t in now) == sorted(expected) else None
        return now if shown(page) == expected else None
    return page.wait(matches, f"the task list is not {expected}: {tasks(page)}", timeout)


def two_pages(hub: Hub, browsers) -> tuple[DemoPage, DemoPage]:
    alice = DemoPage(browsers("alice"), "Alice").open(hub, "Alice")
    bob = DemoPage(browsers("bob"), "Bob").open(hub, "Bob")
    open_tasks(alice)
    open_tasks(bob)
    return alice, bob


def test_two_browsers_edit_one_goes_offline_edits_and_both_converge(hub, browsers):
    alice, bob = two_pages(hub, browsers)
    add(alice, "Buy milk")
    add(bob, "Write report")
    wait_tasks(alice, {"Buy milk", "Write report"})
    wait_tasks(bob, {"Buy milk", "Write report"})

    network(alice, online=False)
    try:
        alice.wait_status("reconnecting")
        alice.wait(lambda: collection_status(alice) == "offline", "the task list is not offline")
        # Alice's offline edits show at once, pending.
        add(alice, "Call Carol")
        toggle(alice, "Buy milk")
        rename(alice, "Write report", "Write the report")
        alice.wait(lambda: sum(t["pending"] for t in tasks(alice)) == 3, f"Alice's edits are not pending: {tasks(alice)}")
        screenshot(alice.driver, "sync-alice-offline-edits-pending")
        # Meanwhile Bob adds one; Alice cannot see it.
        add(bob, "Fix the bike")
        wait_tasks(bob, {"Buy milk", "Write report", "Fix the bike"})
        assert "Fix the bike" not in {t["title"] for t in tasks(alice)}
        alice.driver.execute_script(RECORD_SYNC_REPLIES_JS)
    finally:
        network(alice, online=True)

    alice.wait_status("connected", RECONNECT_WAIT)
    final = {"Buy milk", "Write the report", "Call Carol", "Fix the bike"}
    wait_tasks(alice, final, RECONNECT_WAIT)
    wait_tasks(bob, final)
    version, records = hub_records(hub)
    # Each offline edit applied once: 2 inserts, then 3 offline edits and Bob's insert.
    assert version == 6, (version, records)
    assert shown(alice) == shown(bob) == records, (shown(alice), shown(bob), records)
    assert records[task_item(bob, "Buy milk").get_attribute("data-id")] == ("Buy milk", True)
    assert {t["version"] for t in tasks(alice)} == {t["version"] for t in tasks(bob)}
    # Resumed from its version: the changes it missed, not a new snapshot.
    assert alice.driver.execute_script("return window.syncReplies") == ["sync_changes"]
    screenshot(bob.driver, "sync-bob-converged")
    assert page_errors(alice.driver) == [] and page_errors(bob.driver) == []


def test_a_conflicting_offline_edit_is_rolled_back_visibly(hub, browsers):
    alice, bob = two_pages(hub, browsers)
    add(bob, "Draft the plan")
    wait_tasks(alice, {"Draft the plan"})

    network(alice, online=False)
    try:
        alice.wait(lambda: collection_status(alice) == "offline", "the task list is not offline")
        rename(bob, "Draft the plan", "Bob's plan")
        wait_tasks(bob, {"Bob's plan"})
        # Alice edits the version she saw (1); the hub has 2 by now.
        rename(alice, "Draft the plan", "Alice's plan")
        alice.wait(lambda: [t["pending"] for t in tasks(alice)] == [True], f"Alice's edit is not pending: {tasks(alice)}")
    finally:
        network(alice, online=True)

    # Refused as a conflict and rolled back to Bob's record, marked on the task and in a note.
    rolled_back = alice.wait(lambda: (now := tasks(alice)) and now[0]["rolledBack"] and now,
                             f"no rolled-back task on Alice's page: {tasks(alice)}", RECONNECT_WAIT)
    assert [(t["title"], t["pending"]) for t in rolled_back] == [("Bob's plan", False)], rolled_back
    note = alice.driver.find_element(By.CSS_SELECTOR, "[data-testid=task-note]").text
    assert "Rolled back your edit \"Alice's plan\"" in note and "it is \"Bob's plan\"" in note, note
    screenshot(alice.driver, "sync-alice-conflict-rolled-back")
    wait_tasks(bob, {"Bob's plan"})
    assert hub_records(hub)[1] == shown(alice) == shown(bob)
    # Alice edits again, on the version she now sees: accepted.
    rename(alice, "Bob's plan", "Our plan")
    wait_tasks(bob, {"Our plan"})
    wait_tasks(alice, {"Our plan"})
    assert page_errors(alice.driver) == [] and page_errors(bob.driver) == []

"""The /dashboard's event bus panel in a real headless Chromium (as test_browser.py): consumers
with their lag, counts and state, and the dead-letter queue with its Retry and Clear buttons,
against a real hub whose webhook consumer delivers to an endpoint that fails on purpose."""

from __future__ import annotations

import json

import httpx

from selenium.webdriver.common.by import By

from test_browser import browsers, page_errors, screenshot, wait_until  # noqa: F401 (browsers is a fixture)
from conftest import parse_metrics
from test_events import FailingEndpoint

KEY = "dashboard-events-api-key-0123456789"
ADMIN = {"Authorization": f"Bearer {KEY}"}


def test_dashboard_shows_consumers_and_the_dead_letter_queue_and_retries_and_clears_it(hub_factory, browsers):
    # The endpoint fails the 1st and 3rd requests: one attempt each, so each is a dead letter at once.
    endpoint = FailingEndpoint(script=lambda n: 500 if n in (0, 2) else 200)
    try:
        hook = {"name": "hook", "types": ["order.*"], "retry": {"max_attempts": 1},
                "target": {"webhook": {"url": endpoint.url, "secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}}}
        paused = {"name": "paused", "types": ["order.*"], "enabled": False, "target": {"handler": "nobody"}}
        hub = hub_factory(["--api-key", KEY, "--event-consumers", json.dumps([hook, paused])])
        publish = lambda n: httpx.post(f"{hub.url}/api/events/publish", headers=ADMIN, timeout=10,
                                       json={"type": "order.created", "data": {"n": n}, "event_id": f"o-{n}"}).raise_for_status()
        publish(1)
        viewer = browsers("viewer")
        viewer.get(f"{hub.url}/dashboard")
        viewer.find_element(By.CSS_SELECTOR, "[data-testid=api-key]").send_keys(KEY)
        viewer.find_element(By.CSS_SELECTOR, "[data-testid=save-key]").click()
        consumers = lambda: {row["name"]: row for row in viewer.execute_script("""
            return [...document.querySelectorAll('[data-testid=consumer-row]')].map((row) => ({
              name: row.dataset.consumer,
              state: row.querySelector('[data-testid=consumer-state]').textContent,
              lag: row.querySelector('[data-testid=consumer-lag]').textContent,
              delivered: row.querySelector('[data-testid=consumer-delivered]').textContent,
              dead: row.querySelector('[data-testid=consumer-dead-letters]').textContent}));""")}
        letters = lambda: viewer.execute_script("""
            return [...document.querySelectorAll('[data-testid=dlq-row]')].map((row) => ({
              id: row.dataset.id, consumer: row.dataset.consumer, error: row.querySelector('[data-testid=dlq-error]').textContent}));""")

        # The failed delivery is a dead letter of 'hook', with the endpoint's answer as its error;
        # 'paused' is disabled, and its lag counts the event it has not taken.
        wait_until(viewer, lambda: len(letters()) == 1 and consumers().get("hook", {}).get("dead") == "1",
                   f"no dead letter: {letters()} {consumers()}")
        assert letters()[0]["consumer"] == "hook" and "HTTP 500" in letters()[0]["error"], letters()
        assert consumers()["paused"]["state"] == "disabled" and consumers()["paused"]["lag"] == "1", consumers()
        assert consumers()["hook"]["state"] == "enabled"
        # The same per consumer in /metrics: its dead letters and its counted outcomes.
        metrics = lambda: parse_metrics(httpx.get(f"{hub.url}/metrics", timeout=10).text)
        wait_until(viewer, lambda: metrics().get('chorus_event_dead_letters{consumer="hook"}') == 1, "no dead-letter gauge")
        assert metrics()['chorus_event_deliveries_total{consumer="hook",outcome="dead_lettered"}'] == 1
        viewer.set_window_size(1280, 1700)
        screenshot(viewer, "dashboard-events")
        viewer.set_window_size(1280, 800)

        # Retry: the endpoint now answers 200, so the event is delivered and the queue empties.
        viewer.find_element(By.CSS_SELECTOR, "[data-testid=dlq-retry]").click()
        wait_until(viewer, lambda: letters() == [] and consumers()["hook"]["delivered"] == "1" and consumers()["hook"]["dead"] == "0",
                   f"the retried dead letter was not delivered: {letters()} {consumers()}")
        assert "1 sent back for delivery" in viewer.find_element(By.CSS_SELECTOR, "[data-testid=dlq-result]").text
        assert [json.loads(body)["event_id"] for _, _, body in endpoint.requests] == ["o-1", "o-1"]

        # Clear: the next failure is dead-lettered, and Clear all (confirmed) removes it for good.
        publish(2)
        wait_until(viewer, lambda: len(letters()) == 1, f"no second dead letter: {letters()}")
        viewer.find_element(By.CSS_SELECTOR, "[data-testid=dlq-clear-all]").click()
        viewer.switch_to.alert.accept()
        wait_until(viewer, lambda: letters() == [], f"the dead letters were not cleared: {letters()}")
        dlq = httpx.get(f"{hub.url}/api/events/dlq", headers=ADMIN, timeout=10).json()
        assert dlq["dead_letters"] == []
        assert len(endpoint.requests) == 3          # cleared, not retried
        assert page_errors(viewer) == []
    finally:
        endpoint.close()

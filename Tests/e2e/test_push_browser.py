"""Web Push in a real headless Chromium (docs/pwa.md, "Web Push"): the demo offers "Notify me"
when the hub has VAPID keys; a push delivered to its service worker through the DevTools protocol
(`ServiceWorker.deliverPushMessage`, as a push service would wake it) shows the notification the
payload describes (`registration.getNotifications()`), and the click handler's choice among the
browser's real window clients is the demo page the notification's URL names.

Chromium's headless mode has no push service to subscribe with (pushManager.subscribe needs
FCM) and nothing to click a notification with, so the subscription side runs against the
stand-in in test_push.py and the click's window choice is asked of the worker directly."""

from __future__ import annotations

import json

import pytest
from selenium.webdriver.common.by import By

from devtools import DevTools
from test_browser import DemoPage, start_chromium, wait_until
from test_push import keys


@pytest.fixture
def browser():
    driver = start_chromium()
    yield driver
    driver.quit()


NOTIFICATIONS_JS = """
const done = arguments[arguments.length - 1];
navigator.serviceWorker.ready.then((r) => r.getNotifications())
  .then((list) => done(list.map((n) => ({ title: n.title, body: n.body, icon: n.icon, tag: n.tag, data: n.data }))))
  .catch((error) => done({ error: String(error) }));
"""


def test_a_pushed_message_shows_its_notification_and_its_url_picks_the_demo_window(hub_factory, browser):
    hub = hub_factory(env={**keys(), "CHORUS_PUSH_VAPID_SUBJECT": "mailto:ops@example.com"})
    # Before the worker starts: a worker already running may keep the permission it read first,
    # and its showNotification is then refused (seen as no notification, now and then).
    browser.execute_cdp_cmd("Browser.grantPermissions", {"permissions": ["notifications"], "origin": hub.url})
    page = DemoPage(browser, "Alice").open(hub, "Alice")
    # The hub has keys: the demo offers notifications.
    page.wait(lambda: browser.find_element(By.ID, "notify").is_displayed(), "no 'Notify me' button")
    wait_until(browser, lambda: browser.execute_script("return !!navigator.serviceWorker.controller")
               or browser.refresh() or False, "the worker never controlled the page")

    devtools = DevTools(browser)
    try:
        page_session = devtools.attach(lambda t: t["type"] == "page" and t["url"].startswith(f"{hub.url}/demo"))
        registration_id = devtools.registration_id(page_session, f"{hub.url}/")
        payload = {"title": "Storm warning", "body": "Wind at 90 km/h", "url": "/demo#alerts", "tag": "alerts:news",
                   "topic": "alerts:news", "data": {"level": 3}}
        def push(data: str, shown, message: str):
            # Headless Chromium now and then drops a push delivered through DevTools before it
            # reaches the worker (the worker then shows nothing, though a showNotification of its
            # own works): deliver again, at most twice. What is shown is checked as before.
            for attempt in range(3):
                devtools.send("ServiceWorker.deliverPushMessage",
                              {"origin": hub.url, "registrationId": registration_id, "data": data}, session=page_session)
                try:
                    return wait_until(browser, lambda: shown(browser.execute_async_script(NOTIFICATIONS_JS)), message, timeout=4)
                except pytest.fail.Exception:
                    if attempt == 2:
                        raise

        shown = push(json.dumps(payload), lambda n: n, "the pushed message showed no notification")
        assert "error" not in shown, shown
        assert shown == [{"title": "Storm warning", "body": "Wind at 90 km/h", "icon": f"{hub.url}/icon.svg",
                          "tag": "alerts:news", "data": {"url": f"{hub.url}/demo#alerts", "payload": {"level": 3}}}]

        # A push that is plain text: the worker's configured title (web/pwa.json) and the text.
        titles = push("just text", lambda n: len(n) >= 2 and n, "the text push showed no notification")
        assert {(n["title"], n["body"], n["data"]["url"]) for n in titles} >= {("Chorus demo", "just text", f"{hub.url}/demo")}

        # The click handler's choice, asked of the worker among the browser's real window clients:
        # the open demo page (same page, other fragment), which it would navigate and focus.
        worker_session = devtools.attach(lambda t: t["type"] == "service_worker" and t["url"].startswith(hub.url))
        answer = devtools.evaluate(worker_session, """(async () => {
            const [notification] = (await self.registration.getNotifications()).filter((n) => n.tag === 'alerts:news');
            const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
            return { urls: windows.map((w) => w.url), chosen: ChorusSW.windowForURL(windows, notification.data.url)?.url ?? null };
        })()""")
        assert answer["chosen"] in answer["urls"] and answer["chosen"].startswith(f"{hub.url}/demo"), answer
    finally:
        devtools.close()

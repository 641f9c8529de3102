"""A raw DevTools protocol connection to the Chromium that Selenium drives, for the browser tests
that reach past a page: a service worker's own target (``Runtime.evaluate`` in the worker), its
registration id for ``ServiceWorker.deliverPushMessage`` and ``ServiceWorker.dispatchSyncEvent``,
and protocol events (which ``execute_cdp_cmd`` cannot read)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
from websockets.sync.client import connect


class DevTools:
    """A raw DevTools protocol connection to the browser Selenium drives, for what
    ``execute_cdp_cmd`` cannot do: read events, and talk to the service worker's own target."""

    def __init__(self, driver) -> None:
        address = driver.capabilities["goog:chromeOptions"]["debuggerAddress"]
        url = httpx.get(f"http://{address}/json/version").json()["webSocketDebuggerUrl"]
        self.ws = connect(url, max_size=None, open_timeout=10)
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        message_id = next(self.ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:
            answer = json.loads(self.ws.recv(timeout=20))
            if answer.get("id") == message_id:
                assert "error" not in answer, (method, answer)
                return answer["result"]
            self.events.append(answer)

    def wait_event(self, method: str, predicate=lambda params: True, timeout: float = 20) -> dict[str, Any]:
        """The first event ``method`` (received so far or next) whose params satisfy ``predicate``."""
        while True:
            for event in self.events:
                if event.get("method") == method and predicate(event["params"]):
                    return event["params"]
            self.events.append(json.loads(self.ws.recv(timeout=timeout)))

    def attach(self, predicate) -> str:
        targets = self.send("Target.getTargets")["targetInfos"]
        target = next(t for t in targets if predicate(t))
        return self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})["sessionId"]

    def registration_id(self, session: str, scope: str) -> str:
        """The id of the service worker registration of ``scope`` (``ServiceWorker.enable`` on
        ``session``, a page's, reports the origin's registrations)."""
        self.send("ServiceWorker.enable", session=session)
        registration = self.wait_event(
            "ServiceWorker.workerRegistrationUpdated",
            lambda params: any(r["scopeURL"] == scope for r in params["registrations"]))
        return next(r["registrationId"] for r in registration["registrations"] if r["scopeURL"] == scope)

    def evaluate(self, session: str, expression: str) -> Any:
        """``expression``'s value (a promise awaited) in the target of ``session``."""
        answer = self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True},
                           session=session)
        assert "exceptionDetails" not in answer, answer
        return answer["result"].get("value")

    def close(self) -> None:
        self.ws.close()

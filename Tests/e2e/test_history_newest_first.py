"""`GET /api/topics/{topic}/history?order=desc`: the last N messages in one call, newest first,
and older pages with `before`; `since` and `before` bound the window in either order."""

from __future__ import annotations

import httpx

from conftest import Hub

API_KEY = "history-order-test-key"


def test_newest_first_pages_down_and_the_window_bounds_both_orders(tmp_path):
    hub = Hub(["--api-key", API_KEY], cwd=tmp_path).start()
    auth = {"Authorization": f"Bearer {API_KEY}"}
    try:
        with httpx.Client(base_url=hub.url, headers=auth) as c:
            for n in range(1, 8):
                assert c.post("/api/publish", json={"topic": "demo:order", "data": n}).json()["offset"] == n
            url = "/api/topics/demo:order/history"
            last = c.get(url, params={"order": "desc", "limit": 3}).json()
            assert [m["data"] for m in last["messages"]] == [7, 6, 5] and last["next_before"] == 5, last
            assert "next_since" not in last and last["last_offset"] == 7
            older = c.get(url, params={"order": "desc", "limit": 3, "before": last["next_before"]}).json()
            assert [m["data"] for m in older["messages"]] == [4, 3, 2] and older["next_before"] == 2, older
            oldest = c.get(url, params={"order": "desc", "limit": 3, "before": 2}).json()
            assert [m["data"] for m in oldest["messages"]] == [1] and oldest["next_before"] is None, oldest
            # A client that has up to 4 pages down to it, and no further.
            window = c.get(url, params={"order": "desc", "since": 4}).json()
            assert [m["data"] for m in window["messages"]] == [7, 6, 5] and window["next_before"] is None, window
            # Oldest first as before, now bounded above by `before`.
            up = c.get(url, params={"since": 2, "before": 5}).json()
            assert [m["data"] for m in up["messages"]] == [3, 4], up
            for bad in ({"order": "newest"}, {"order": "desc", "before": 0}, {"before": "x"}):
                r = c.get(url, params=bad)
                assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request", (bad, r.text)
    finally:
        hub.stop()

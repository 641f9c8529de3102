"""GET /api/nodes on a single process: the node lists itself, with the id and address it was
given (or generated and bound), its open connections and uptime, behind the API key like
/api/stats. (The cluster's nodes, registered in Redis, are tested with the cluster.)"""
from __future__ import annotations

import asyncio
import re

import httpx

from conftest import recv_frame, ws_connect


async def test_a_single_hub_lists_itself_with_its_connections(hub_factory):
    h = hub_factory(["--threads", "1"])
    (node,) = httpx.get(f"{h.url}/api/nodes").json()["nodes"]
    # Generated: the host name and six hex digits; the address is where it listens.
    assert re.fullmatch(r".+-[0-9a-f]{6}", node["id"]), node
    assert node["address"] == f"127.0.0.1:{h.port}" and node["local"] is True
    assert node["connections"] == 0 and 0 <= node["uptime_seconds"] < 60, node
    async with await ws_connect(h.ws(topics=["n.a"])) as w1, await ws_connect(h.ws(topics=["n.a"])) as w2:
        for ws in (w1, w2):
            assert (await recv_frame(ws))["type"] == "subscribed"
        (node,) = httpx.get(f"{h.url}/api/nodes").json()["nodes"]
        assert node["connections"] == 2, node
    # Connections close asynchronously on the hub's loop: wait for the count to drop.
    for _ in range(50):
        if httpx.get(f"{h.url}/api/nodes").json()["nodes"][0]["connections"] == 0:
            break
        await asyncio.sleep(0.1)
    assert httpx.get(f"{h.url}/api/nodes").json()["nodes"][0]["connections"] == 0


def test_node_id_and_address_come_from_the_configuration(hub_factory):
    h = hub_factory(["--node-id", "web-1", "--node-address", "10.0.0.5:8080"])
    (node,) = httpx.get(f"{h.url}/api/nodes").json()["nodes"]
    assert node.pop("uptime_seconds") >= 0
    assert node == {"id": "web-1", "address": "10.0.0.5:8080", "connections": 0, "local": True}
    env = hub_factory(env={"CHORUS_NODE_ID": "web-2"})
    assert httpx.get(f"{env.url}/api/nodes").json()["nodes"][0]["id"] == "web-2"


def test_nodes_need_the_api_key_when_one_is_set(hub_factory):
    key = "nodes-e2e-api-key-0123456789abcdef"
    h = hub_factory(env={"CHORUS_API_KEY": key})
    refused = httpx.get(f"{h.url}/api/nodes")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized", refused.text
    ok = httpx.get(f"{h.url}/api/nodes", headers={"Authorization": f"Bearer {key}"})
    assert ok.status_code == 200 and ok.json()["nodes"][0]["local"] is True

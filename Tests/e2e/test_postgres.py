"""`chorus serve` with `postgres_url`: migrations at start (from several nodes at once), `/ready`
reporting PostgreSQL, an outage that only what needs PostgreSQL notices and that heals by
itself, and clear exit messages for a bad URL or an unreachable server."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import jsonschema
import yaml

from conftest import Hub, PostgresServer, free_port, http_publish, recv_type, run_cli, subscribe, wait_for, ws_connect

# Every migration this chorus ships, in order, from the registry itself (each feature adds one).
MIGRATIONS = [(int(v), n) for v, n in re.findall(r'Migration\(version: (\d+), name: "([^"]+)"',
                                                  (Path(__file__).resolve().parents[2] / "Sources/ChorusPostgres/Migrations.swift").read_text())]

# Trust authentication ignores it: it shows the password never reaches a message.
PASSWORD = "s3cret-pw"


def postgres_env(server: PostgresServer, database: str) -> dict[str, str]:
    url = server.create_database(database).replace(f"{server.user}@", f"{server.user}:{PASSWORD}@")
    return {"CHORUS_POSTGRES_URL": url, "CHORUS_POSTGRES_POOL_SIZE": "4"}


async def ready(hub: Hub) -> tuple[int, dict]:
    """`/ready`'s status and body, checked against docs/openapi.yaml."""
    async with hub.http(timeout=15.0) as c:
        r = await c.get("/ready")
    spec = yaml.safe_load((Path(__file__).resolve().parents[2] / "docs/openapi.yaml").read_text())
    schema = spec["paths"]["/ready"]["get"]["responses"][str(r.status_code)]["content"]["application/json"]["schema"]
    # The document's components beside the schema, so its '#/components/…' references resolve.
    jsonschema.validate(r.json(), {**schema, "components": spec["components"]})
    return r.status_code, r.json()


async def test_ready_reports_postgres_once_migrated(postgres_server, hub_factory):
    hub = hub_factory(env=postgres_env(postgres_server, "ready"))
    await wait_for(lambda: _is_ready(hub), timeout=20, what="/ready 200")
    status, body = await ready(hub)
    assert status == 200 and body == {"status": "ready", "checks": {"postgres": {"status": "ok"}}}, body
    assert postgres_server.psql("SELECT string_agg(version || ':' || name, ',' ORDER BY version) FROM chorus_migrations", "ready") == ",".join(
        f"{version}:{name}" for version, name in MIGRATIONS)
    assert len(postgres_server.psql("SELECT id FROM chorus_cluster", "ready")) == 36


async def test_three_nodes_starting_at_once_migrate_once(postgres_server):
    env = postgres_env(postgres_server, "nodes")
    hubs = [Hub(env=env) for _ in range(3)]
    try:
        await asyncio.gather(*(asyncio.to_thread(h.start) for h in hubs))
        for h in hubs:
            await wait_for(lambda h=h: _is_ready(h), timeout=20, what="/ready 200 on every node")
        assert postgres_server.psql("SELECT count(*) FROM chorus_migrations", "nodes") == str(len(MIGRATIONS))
        assert postgres_server.psql("SELECT count(*) FROM chorus_cluster", "nodes") == "1"
    finally:
        for h in hubs:
            h.stop()


async def test_an_outage_fails_ready_only_and_heals_by_itself(postgres_server, hub_factory):
    hub = hub_factory(env=postgres_env(postgres_server, "outage"))
    await wait_for(lambda: _is_ready(hub), timeout=20, what="/ready 200")
    ws = await ws_connect(hub.ws_url)
    try:
        await subscribe(ws, "room:a")
        postgres_server.stop()

        status, body = await ready(hub)
        assert status == 503, body
        assert body["status"] == "not_ready"
        assert body["checks"]["postgres"]["status"] == "failing"
        assert body["error"]["code"] == "unavailable"
        message = body["error"]["message"]
        assert message.startswith(f"postgres: cannot reach PostgreSQL at postgres://postgres@127.0.0.1:{postgres_server.port}/outage"), message
        assert "refused" in message.lower(), message
        assert PASSWORD not in message

        # Everything that does not need PostgreSQL goes on.
        async with hub.http() as c:
            assert (await c.get("/health")).status_code == 200
        await http_publish(hub, "room:a", {"during": "outage"})
        assert (await recv_type(ws, "message"))["data"] == {"during": "outage"}

        postgres_server.start()
        # The pool reconnects with a backoff that grows with the outage (at most a minute).
        await wait_for(lambda: _is_ready(hub), timeout=90, interval=0.5, what="/ready 200 again after PostgreSQL is back")
        await http_publish(hub, "room:a", {"after": "outage"})
        assert (await recv_type(ws, "message"))["data"] == {"after": "outage"}
        assert hub.running
        assert PASSWORD not in hub.stderr
    finally:
        await ws.close()


def test_a_bad_postgres_url_exits_with_a_clear_message():
    done = run_cli("serve", "--port", "0", "--postgres-url", f"mysql://u:{PASSWORD}@127.0.0.1/db")
    assert done.returncode == 2
    assert "postgres_url has the scheme 'mysql'; expected postgres:// or postgresql://" in done.stderr, done.stderr
    assert PASSWORD not in done.stderr
    done = run_cli("serve", "--port", "0", env={"CHORUS_POSTGRES_URL": "postgres://u@h/db?sslmode=sometimes"})
    assert done.returncode != 0
    assert "CHORUS_POSTGRES_URL: postgres_url has sslmode=sometimes" in done.stderr, done.stderr


def test_an_unreachable_postgres_stops_start_up_with_the_reason():
    port = free_port()
    started = time.monotonic()
    done = run_cli("serve", "--port", "0", "--postgres-url", f"postgres://chorus:{PASSWORD}@127.0.0.1:{port}/chorus?sslmode=disable")
    assert done.returncode == 2
    assert f"cannot reach PostgreSQL at postgres://chorus@127.0.0.1:{port}/chorus?sslmode=disable" in done.stderr, done.stderr
    assert done.stderr.rstrip().endswith(": Connection refused"), done.stderr
    assert PASSWORD not in done.stderr
    assert time.monotonic() - started < 15


async def _is_ready(hub: Hub) -> bool:
    status, _ = await ready(hub)
    return status == 200


def test_a_refusing_server_stops_start_up_with_its_reason(postgres_server):
    done = run_cli("serve", "--port", "0", "--postgres-url", postgres_server.database_url("nosuchdb"))
    assert done.returncode == 2
    assert (f"chorus: PostgreSQL at postgres://postgres@127.0.0.1:{postgres_server.port}/nosuchdb?sslmode=disable refused: "
            'database "nosuchdb" does not exist (SQLSTATE 3D000)') in done.stderr, done.stderr

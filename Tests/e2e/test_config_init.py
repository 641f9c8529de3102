"""`chorus config init`: a starter chorus.json that a hub runs with as written (secured, with
its namespaces), that `chorus token` in the same folder signs for, and that is never silently
overwritten."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx
import pytest

from conftest import Hub, run_cli


def test_init_writes_a_secured_commented_config_the_hub_runs_with(tmp_path: Path):
    result = run_cli("config", "init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "chorus.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = json.loads(path.read_text())
    assert len(config["jwt_secret"]) == 64 and len(config["api_key"]) == 48
    assert any(key.startswith("//") for key in config), "the starter explains its settings"
    assert config["namespaces"]["chat"]["history_size"] == 1000
    # A second run makes new secrets.
    assert json.loads(run_cli("config", "init", "--output", "-", cwd=tmp_path).stdout)["jwt_secret"] != config["jwt_secret"]

    hub = Hub(cwd=tmp_path, port_flag=True).start()
    try:
        # Not development mode: the API needs the key, and the key works.
        assert httpx.get(f"{hub.url}/api/stats").status_code == 401
        stats = httpx.get(f"{hub.url}/api/stats", headers={"Authorization": f"Bearer {config['api_key']}"})
        assert stats.status_code == 200, stats.text
        receipt = httpx.post(f"{hub.url}/api/publish", json={"topic": "chat:general", "data": 1},
                             headers={"Authorization": f"Bearer {config['api_key']}"}).json()
        assert receipt["offset"] == 1, receipt  # chat keeps history, as the file says
        # `chorus token` in the same folder reads the file's secret.
        token = run_cli("token", "--user", "alice", cwd=tmp_path)
        assert token.returncode == 0, token.stderr
        assert httpx.get(f"{hub.url}/api/topics/chat:general/history",
                         headers={"Authorization": f"Bearer {token.stdout.strip()}"}).status_code == 200
    finally:
        assert hub.stop() == 0


def test_init_never_overwrites_without_force(tmp_path: Path):
    (tmp_path / "chorus.json").write_text('{"port": 9999}')
    refused = run_cli("config", "init", cwd=tmp_path)
    assert refused.returncode == 2 and "exists" in refused.stderr and "--force" in refused.stderr
    assert (tmp_path / "chorus.json").read_text() == '{"port": 9999}'
    assert run_cli("config", "init", "--force", cwd=tmp_path).returncode == 0
    assert "jwt_secret" in json.loads((tmp_path / "chorus.json").read_text())


@pytest.mark.parametrize("args", [["config"], ["config", "generate"], ["config", "init", "--bogus"], ["config", "init", "--output"]])
def test_bad_usage_says_how(tmp_path: Path, args: list[str]):
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2 and "Usage: chorus config init" in result.stderr, result.stderr
    assert not (tmp_path / "chorus.json").exists()


def test_a_comment_key_is_ignored_but_an_unknown_key_is_still_an_error(tmp_path: Path):
    (tmp_path / "chorus.json").write_text('{"//": "a note", "// port": "why", "bogus": 1}')
    result = run_cli("serve", cwd=tmp_path)
    assert result.returncode == 2 and "unknown option 'bogus'" in result.stderr, result.stderr

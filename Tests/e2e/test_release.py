"""scripts/release's tarball: a binary that needs nothing but the C library, with the web assets
inside, serving the demo and a publish from a folder that holds nothing else."""

from __future__ import annotations

import glob
import os
import subprocess
import tarfile
from pathlib import Path

import httpx
import pytest

from conftest import Hub

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def release_binary(tmp_path_factory) -> Path:
    tarball = os.environ.get("CHORUS_RELEASE_TARBALL")
    if not tarball:
        # Not built by scripts/test beforehand: build it now (minutes, its own build folder).
        result = subprocess.run([str(ROOT / "scripts/release")], cwd=ROOT, capture_output=True, text=True, timeout=3600)
        assert result.returncode == 0, result.stderr[-5000:]
        tarball = result.stdout.strip().splitlines()[-1]
    folder = tmp_path_factory.mktemp("release")
    with tarfile.open(tarball) as archive:
        archive.extractall(folder, filter="data")
    (top,) = [path for path in folder.iterdir() if path.is_dir()]
    assert (top / "README.md").exists() and (top / "docs/configuration.md").exists()
    return top / "chorus"


def test_the_binary_needs_only_the_c_library(release_binary: Path):
    needed = subprocess.run(["ldd", str(release_binary)], capture_output=True, text=True, check=True).stdout
    assert "libswift" not in needed and "libFoundation" not in needed and "sqlite" not in needed, needed


def test_it_serves_the_demo_and_history_from_an_empty_folder(release_binary: Path, tmp_path: Path):
    # No toolchain on the library path: PATH only.
    hub = Hub(cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, binary=release_binary).start()
    try:
        demo = httpx.get(f"{hub.url}/demo")
        assert demo.status_code == 200 and "<html" in demo.text.lower()
        assert httpx.get(f"{hub.url}/js/chorus.js").status_code == 200
        receipt = httpx.post(f"{hub.url}/api/publish", json={"topic": "demo:release", "data": {"n": 1}}).json()
        assert receipt["offset"] == 1, receipt
        history = httpx.get(f"{hub.url}/api/topics/demo:release/history").json()
        assert [m["data"] for m in history["messages"]] == [{"n": 1}]
        assert (tmp_path / "chorus-data/chorus.sqlite").exists()
    finally:
        assert hub.stop() == 0

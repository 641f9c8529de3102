"""The WebAssembly loader (clients/js/chorus-wasm.js) in a real headless Chromium: it compiles a
module streaming, calls its exports, and after a reload compiles it from the Cache API without
asking the server; its worker pool runs tasks side by side; feature detection reports what this
Chromium has, isolated or not; a channel decodes a real hub's messages in the pool; and the
benchmark helper times the example kernels against JavaScript.

The pages come from a static site served by Python on its own port: the hub's own
``/js/chorus.js``, ``/js/chorus-wasm.js`` and ``/js/chorus-wasm-worker.js`` (fetched from the hub,
so the browser runs what the hub serves), the example kernels built from their WAT with
``wat2wasm`` (Debian's ``wabt``), and the benchmark page. The site counts the requests it gets,
so a cache hit is seen from the server's side too. Every wait is on a browser condition.
"""

from __future__ import annotations

import base64
import collections
import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from test_browser import ARTIFACTS, page_errors, start_chromium, wait_until

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "js"
EXAMPLES = ROOT / "examples" / "wasm" / "browser"
CLIENT_FILES = ("chorus.js", "chorus-wasm.js", "chorus-wasm-worker.js")

# A module that imports a shared memory, for instantiating one on the isolated page.
SHARED_MEMORY_WAT = '(module (import "env" "memory" (memory 1 2 shared)))'
# Pages served cross-origin isolated (COOP and COEP): SharedArrayBuffer, and a 5 µs timer.
ISOLATED = ("/isolated.html", "/bench.html")

INDEX_PAGE = '<!doctype html><meta charset="utf-8"><title>wasm</title><p>loader test page</p>\n'

# Runs `body` (an async function body with `w`, the loader module) in the page; returns its value.
RUN_JS = """
const done = arguments[arguments.length - 1];
import('/chorus-wasm.js')
  .then((w) => (async (w) => { %s })(w))
  .then((value) => done({ value }), (error) => done({ error: String(error), code: error?.code ?? null }));
"""


class Site:
    """A static site on its own port; ``isolated.html`` is served cross-origin isolated."""

    def __init__(self, root: Path, hub_url: str):
        self.root = root
        self.requests: collections.Counter[str] = collections.Counter()
        for name in CLIENT_FILES:
            response = httpx.get(f"{hub_url}/js/{name}", timeout=10)
            assert response.status_code == 200, (name, response.status_code)
            (root / name).write_text(response.text)
        wat2wasm = shutil.which("wat2wasm")
        assert wat2wasm, "wat2wasm is missing: install Debian's wabt (scripts/test does)"
        for kernel in ("kernels", "busy"):
            subprocess.run([wat2wasm, str(EXAMPLES / f"{kernel}.wat"), "-o", str(root / f"{kernel}.wasm")], check=True)
        (root / "shared-memory.wat").write_text(SHARED_MEMORY_WAT)
        subprocess.run([wat2wasm, "--enable-threads", str(root / "shared-memory.wat"), "-o", str(root / "shared-memory.wasm")], check=True)
        # The same bytes under a type compileStreaming refuses: the loader must compile them whole.
        shutil.copy(root / "kernels.wasm", root / "kernels.bin")
        for name in ("busy-imports.js", "bench.js", "bench.html"):
            shutil.copy(EXAMPLES / name, root / name)
        (root / "index.html").write_text(INDEX_PAGE)
        (root / "isolated.html").write_text(INDEX_PAGE)
        handler = functools.partial(SiteHandler, self.requests, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {".wasm": "application/wasm", ".bin": "application/octet-stream", ".js": "text/javascript",
                      ".html": "text/html", "": "application/octet-stream"}

    def __init__(self, requests: collections.Counter[str], *args: Any, **kwargs: Any):
        self.counter = requests
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        self.counter[self.path.split("?")[0]] += 1
        del self.headers["If-Modified-Since"]
        super().do_GET()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")   # the HTTP cache must not stand in for the loader's
        if self.path.split("?")[0] in ISOLATED:
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        super().end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def site(hub_factory, tmp_path) -> Iterator[tuple[Site, Any]]:
    hub = hub_factory()
    served = Site(tmp_path, hub.url)
    yield served, hub
    served.close()


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    driver = start_chromium()
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


def run(driver: WebDriver, body: str) -> Any:
    outcome = driver.execute_async_script(RUN_JS % body)
    assert "error" not in outcome, outcome
    return outcome["value"]


def run_failing(driver: WebDriver, body: str) -> dict[str, Any]:
    outcome = driver.execute_async_script(RUN_JS % body)
    assert "error" in outcome, outcome
    return outcome


def test_the_hub_serves_the_loader_its_worker_and_their_types(hub_factory):
    hub = hub_factory()
    for name, content_type in [("chorus-wasm.js", "text/javascript"), ("chorus-wasm-worker.js", "text/javascript"),
                               ("chorus-wasm.d.ts", "application/typescript")]:
        response = httpx.get(f"{hub.url}/js/{name}", timeout=10)
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith(content_type), name
        assert response.text == (CLIENT / name).read_text(), f"{name}: the hub serves another version (rebuild it)"


LOAD_AND_CALL = """
const kernels = await w.instantiate(await w.load('/kernels.wasm'));
const decoded = kernels.call('base64_decode', { input: btoa('{"hello":"wasm"}'), output: true });
const plain = await w.instantiate(await w.load('/kernels.bin'));
return {
  checksum: kernels.call('adler32', { input: 'Wikipedia' }).value >>> 0,
  decoded: new TextDecoder().decode(decoded.output),
  same: plain.call('adler32', { input: 'Wikipedia' }).value >>> 0,
  stats: w.stats(),
};
"""


def test_load_compiles_streaming_calls_exports_and_a_reload_compiles_from_the_cache_api(site, browser):
    served, _ = site
    browser.get(f"{served.url}/index.html")
    first = run(browser, LOAD_AND_CALL)
    assert first["checksum"] == 0x11E60398 == first["same"]   # Adler-32 of "Wikipedia"
    assert first["decoded"] == '{"hello":"wasm"}'
    stats = first["stats"]
    assert (stats["fetched"], stats["compiled"], stats["compiledStreaming"]) == (2, 2, 1), \
        "application/wasm streams; octet-stream is compiled whole"
    assert (stats["cacheHits"], stats["persistentHits"], stats["modulesLoaded"]) == (0, 0, 2)
    assert served.requests["/kernels.wasm"] == 1 and served.requests["/kernels.bin"] == 1

    browser.refresh()   # a new page: memory is gone, the Cache API is not
    again = run(browser, LOAD_AND_CALL)
    assert again["checksum"] == first["checksum"] and again["decoded"] == first["decoded"]
    stats = again["stats"]
    assert (stats["fetched"], stats["persistentHits"], stats["cacheHits"], stats["compiled"]) == (0, 2, 2, 2), stats
    assert served.requests["/kernels.wasm"] == 1 and served.requests["/kernels.bin"] == 1, "the server was not asked again"
    cached = run(browser, "return (await (await caches.open(w.CACHE_NAME)).keys()).map((r) => new URL(r.url).pathname).sort();")
    assert cached == ["/kernels.bin", "/kernels.wasm"]

    # A max age the stored copy has outlived: fetched again, and the stored copy renewed.
    expired = run(browser, "await w.load('/kernels.wasm', { maxAge: 0 }); return w.stats();")
    assert (expired["expired"], expired["fetched"]) == (1, 1)
    assert served.requests["/kernels.wasm"] == 2
    assert page_errors(browser) == []


def test_load_and_instantiate_refuse_bad_input_with_clear_errors(site, browser):
    served, _ = site
    browser.get(f"{served.url}/index.html")
    assert run_failing(browser, "await w.load('/missing.wasm');")["code"] == "wasm_fetch_failed"
    assert run_failing(browser, "await w.load('/index.html');")["code"] == "wasm_compile_failed"
    refused = run_failing(browser, "await w.instantiate('/kernels.wasm', { memory: { initial: 2 } });")
    assert refused["code"] == "wasm_no_memory_import"
    failed = run_failing(browser, "const p = new w.WorkerPool({ size: 1 }); await p.run({ module: '/kernels.wasm', export: 'base64_decode', input: '#', output: true });")
    assert failed["code"] == "wasm_kernel_error"


BUSY_MS = 400
PARALLEL = f"""
const pool = new w.WorkerPool({{ size: 4, importsURL: '/busy-imports.js' }});
const task = (ms) => pool.run({{ module: '/busy.wasm', export: 'busy', args: [ms] }});
await Promise.all([1, 2, 3, 4].map(() => task(1)));   // starts the four workers
const started = performance.timeOrigin + performance.now();
const results = await Promise.all([1, 2, 3, 4].map(() => task({BUSY_MS})));
const elapsed = performance.timeOrigin + performance.now() - started;
return {{ elapsed, results: results.map(({{ started, ended, worker }}) => ({{ started, ended, worker }})), stats: pool.stats }};
"""


def test_the_pool_runs_four_tasks_side_by_side(site, browser):
    served, _ = site
    browser.get(f"{served.url}/index.html")
    outcome = run(browser, PARALLEL)
    results = outcome["results"]
    assert sorted(r["worker"] for r in results) == [0, 1, 2, 3], "one task per worker"
    assert all(r["ended"] - r["started"] >= BUSY_MS for r in results)
    # Every task started before any of them ended: all four ran at once.
    assert max(r["started"] for r in results) < min(r["ended"] for r in results), results
    # One after another would take 4 x 400 ms; side by side about 400 ms. Generous margin.
    assert outcome["elapsed"] < 2.5 * BUSY_MS, outcome
    assert outcome["stats"]["tasksRun"] == 8 and outcome["stats"]["workers"] == 4
    assert outcome["stats"]["averageTaskMs"] > BUSY_MS / 2
    assert page_errors(browser) == []


def test_a_page_on_another_origin_runs_the_hubs_loader_and_pool(site, browser):
    served, hub = site
    browser.get(f"{served.url}/index.html")
    outcome = browser.execute_async_script("""
const done = arguments[arguments.length - 1];
import(arguments[0]).then(async (w) => {
  const pool = new w.WorkerPool({ size: 2 });
  const results = await Promise.all(['aGVsbG8=', 'd29ybGQ='].map((text) =>
    pool.run({ module: '/kernels.wasm', export: 'base64_decode', input: text, output: true })));
  return results.map((result) => new TextDecoder().decode(result.output));
}).then((value) => done({ value }), (error) => done({ error: String(error) }));
""", f"{hub.url}/js/chorus-wasm.js")
    assert outcome == {"value": ["hello", "world"]}, outcome
    assert served.requests["/kernels.wasm"] == 1, "the module came from the page's origin"
    assert served.requests["/chorus-wasm-worker.js"] == 0, "the workers ran the hub's script"
    assert page_errors(browser) == []


FEATURE_KEYS = {"webAssembly", "streaming", "simd", "threads", "sharedArrayBuffer", "crossOriginIsolated",
                "bulkMemory", "referenceTypes", "tailCalls"}


def test_feature_detection_reports_what_this_chromium_has(site, browser):
    served, _ = site
    browser.get(f"{served.url}/index.html")
    features = run(browser, "return w.detectFeatures();")
    assert set(features) == FEATURE_KEYS and all(isinstance(v, bool) for v in features.values()), features
    # This Chromium compiles all of them; a page that is not cross-origin isolated has no
    # SharedArrayBuffer, so no threads.
    assert {k: features[k] for k in ("webAssembly", "streaming", "simd", "bulkMemory", "referenceTypes", "tailCalls")} \
        == dict.fromkeys(("webAssembly", "streaming", "simd", "bulkMemory", "referenceTypes", "tailCalls"), True)
    assert (features["crossOriginIsolated"], features["sharedArrayBuffer"], features["threads"]) == (False, False, False)

    browser.get(f"{served.url}/isolated.html")
    isolated = run(browser, "return w.detectFeatures();")
    assert (isolated["crossOriginIsolated"], isolated["sharedArrayBuffer"], isolated["threads"]) == (True, True, True)
    # And the shared memory it reports can be made: a pool's instance gets it from its options.
    shared = run(browser, "const made = await w.instantiate('/shared-memory.wasm', { memory: { initial: 1, maximum: 2, shared: true } });"
                          " return made.memory.buffer instanceof SharedArrayBuffer;")
    assert shared is True


DECODING_PAGE = """
const { getClient } = await import('/chorus.js');
const client = getClient(%s, { shared: false });
const channel = client.channel('sensors:lab', { decode: { module: '/kernels.wasm', export: 'base64_decode' } });
window.readings = [];
window.decodeErrors = [];
channel.on('reading', (data, message) => readings.push({ data, encoded: message.encoded, offset: message.offset ?? null }));
channel.on('error', (error) => decodeErrors.push(error.code));
await channel.subscribe();
return client.state;
"""


def test_a_channel_decodes_a_real_hubs_messages_in_the_worker_pool(site, browser):
    served, hub = site
    browser.get(f"{served.url}/index.html")
    ws_url = hub.url.replace("http://", "ws://") + "/ws"
    assert run(browser, DECODING_PAGE % json.dumps(ws_url)) == "connected"
    payloads = [{"sensor": "t1", "celsius": 20 + i / 10, "note": "é✓"} for i in range(6)]
    encoded = [base64.b64encode(json.dumps(p).encode()).decode() for p in payloads]
    for i, text in enumerate(encoded):
        if i == 3:
            bad = httpx.post(f"{hub.url}/api/publish", json={"topic": "sensors:lab", "event": "reading", "data": "not*base64"}, timeout=10)
            assert bad.status_code < 300
        response = httpx.post(f"{hub.url}/api/publish", json={"topic": "sensors:lab", "event": "reading", "data": text}, timeout=10)
        assert response.status_code < 300, response.text
    wait_until(browser, lambda: len(browser.execute_script("return readings")) == len(payloads),
               f"not every message was decoded: {browser.execute_script('return [readings, decodeErrors]')}")
    readings = browser.execute_script("return readings")
    assert [r["data"] for r in readings] == payloads, "decoded, in publish order"
    assert [r["encoded"] for r in readings] == encoded
    assert browser.execute_script("return decodeErrors") == ["decode_failed"]
    stats = run(browser, "return w.stats();")
    assert stats["tasksRun"] == len(payloads) and stats["tasksFailed"] == 1, stats
    assert page_errors(browser) == []


def test_the_benchmark_helper_times_the_example_kernels_against_javascript(site, browser):
    """A smoke run by default; the figure in docs/performance.md comes from
    WASM_BENCH_ITERATIONS=60 WASM_BENCH_WARMUP=20 (the result is written to
    test-artifacts/wasm-browser-benchmark.json)."""
    served, _ = site
    iterations = int(os.environ.get("WASM_BENCH_ITERATIONS", "5"))
    warmup = int(os.environ.get("WASM_BENCH_WARMUP", "2"))
    size = int(os.environ.get("WASM_BENCH_SIZE", str(1 << 20)))
    browser.set_script_timeout(300)
    browser.get(f"{served.url}/bench.html?iterations={iterations}&warmup={warmup}&size={size}")
    result = wait_until(browser, lambda: browser.execute_script("return window.benchResult"),
                        "the benchmark did not finish", timeout=300)
    assert "error" not in result, result
    figures = {name: figure for name, figure in result.items() if isinstance(figure, dict) and "speedup" in figure}
    assert {"adler32", "base64", "base64FromString", "base64VsAtob"} <= set(figures), result
    for figure in figures.values():
        assert figure["iterations"] == iterations
        assert 0 <= figure["wasm"]["min"] <= figure["wasm"]["median"] <= figure["wasm"]["max"], figure
        assert figure["wasm"]["median"] > 0 and figure["js"]["median"] > 0, figure
        assert figure["speedup"] == pytest.approx(figure["js"]["median"] / figure["wasm"]["median"])
    assert result["crossOriginIsolated"] is True, "the benchmark page gets the fine timer"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "wasm-browser-benchmark.json").write_text(json.dumps(result, indent=2))
    for name, figure in figures.items():
        print(f"{name}: wasm {figure['wasm']['median']:.3f} ms, js {figure['js']['median']:.3f} ms, speedup {figure['speedup']:.2f}")

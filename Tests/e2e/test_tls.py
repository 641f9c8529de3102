"""Native TLS (``tls_cert``/``tls_key``): ``https://`` and ``wss://`` on the hub's port, with
certificates made by ``openssl`` in a temporary directory: a test CA, a server certificate for
``localhost`` and 127.0.0.1 (served with the CA as its chain), a second one for the reload, an
expired one and one for another name.

Real clients: Python's ``ssl`` (websockets, httpx), curl and headless Chromium.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import shutil
import signal
import socket
import ssl
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from conftest import Hub, chorus_bin, clean_env, free_port, recv_type, run_cli, subscribe, wait_for, ws_connect

CURL = shutil.which("curl")


# --------------------------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------------------------

class Certificates:
    """A CA and server certificates it signed, as PEM files in ``directory``."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.ca = directory / "ca.pem"
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                      "-keyout", directory / "ca.key", "-out", self.ca, "-days", "2", "-subj", "/CN=Chorus test CA",
                      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")

    def _openssl(self, *args) -> None:
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)

    def server(self, name: str, *, sans: str = "DNS:localhost,IP:127.0.0.1", days: int = 2) -> tuple[Path, Path]:
        """A key and a certificate for ``sans`` signed by the CA, valid ``days`` (-1: expired
        yesterday); the certificate file holds the chain (the leaf, then the CA)."""
        key, csr, leaf = (self.directory / f"{name}.{ext}" for ext in ("key", "csr", "leaf.pem"))
        extensions = self.directory / f"{name}.ext"
        extensions.write_text(f"subjectAltName={sans}\nextendedKeyUsage=serverAuth\n")
        self._openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                      "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
        self._openssl("x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey", self.directory / "ca.key",
                      "-set_serial", str(uuid.uuid4().int >> 64), "-out", leaf, "-days", str(days),
                      "-extfile", extensions)
        chain = self.directory / f"{name}.pem"
        chain.write_text(leaf.read_text() + self.ca.read_text())
        return chain, key

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def spki_hash(self) -> str:
        """Base64 SHA-256 of the CA's SubjectPublicKeyInfo (Chromium's SPKI allow-list form)."""
        der = subprocess.run(["openssl", "x509", "-in", str(self.ca), "-noout", "-pubkey"], check=True,
                             capture_output=True).stdout
        spki = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=der, check=True,
                              capture_output=True).stdout
        return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def leaf_der(chain: Path) -> bytes:
    pem = chain.read_text()
    return ssl.PEM_cert_to_DER_cert(pem[: pem.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")])


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certificates:
    return Certificates(tmp_path_factory.mktemp("tls"))


def tls_hub(hub_factory, certificate: Path, key: Path, *args: str) -> Hub:
    return hub_factory(["--tls-cert", str(certificate), "--tls-key", str(key), *args])


def handshake(port: int, context: ssl.SSLContext, host: str = "localhost") -> ssl.SSLSocket:
    """A TLS connection to the hub (the caller closes it)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        return context.wrap_socket(raw, server_hostname=host)
    except BaseException:
        raw.close()
        raise


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------

async def test_wss_subscriber_receives_a_publish_made_over_https(hub_factory, certs):
    hub = tls_hub(hub_factory, *certs.server("main"))
    assert "(TLS: https:// and wss://)" in hub.stderr
    context = certs.client_context()
    ws = await ws_connect(f"wss://localhost:{hub.port}/ws", ssl=context)
    try:
        await subscribe(ws, "news")
        async with httpx.AsyncClient(base_url=f"https://localhost:{hub.port}", verify=context, timeout=10) as client:
            response = await client.post("/api/publish", json={"topic": "news", "data": {"n": 1}})
            assert response.status_code == 200, response.text
            assert response.http_version == "HTTP/1.1"
        message = await recv_type(ws, "message")
        assert message["topic"] == "news" and message["data"] == {"n": 1}
    finally:
        await ws.close()


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
def test_curl_trusts_the_hub_with_the_ca_and_refuses_it_without(hub_factory, certs):
    hub = tls_hub(hub_factory, *certs.server("curl"))
    url = f"https://localhost:{hub.port}/health"
    ok = subprocess.run([CURL, "-sS", "--cacert", str(certs.ca), url], capture_output=True, text=True, timeout=20)
    assert ok.returncode == 0 and '"ok"' in ok.stdout, ok.stderr
    # Without the CA the system store does not know the issuer: curl's 60 (peer certificate).
    refused = subprocess.run([CURL, "-sS", url], capture_output=True, text=True, timeout=20)
    assert refused.returncode == 60, (refused.returncode, refused.stderr)


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_alpn_is_http11_and_tls12_is_the_floor(hub_factory, certs):
    hub = tls_hub(hub_factory, *certs.server("alpn"))
    context = certs.client_context()
    context.set_alpn_protocols(["h2", "http/1.1"])
    with handshake(hub.port, context) as tls:
        assert tls.selected_alpn_protocol() == "http/1.1"
        assert tls.version() in ("TLSv1.2", "TLSv1.3")

    tls12 = certs.client_context()
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    with handshake(hub.port, tls12) as tls:
        assert tls.version() == "TLSv1.2"
        assert "GCM" in tls.cipher()[0] or "CHACHA20" in tls.cipher()[0], tls.cipher()

    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    try:
        old.set_ciphers("DEFAULT@SECLEVEL=0")
        old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ssl.SSLError, ValueError) as error:
        pytest.skip(f"the local OpenSSL will not try TLS 1.1: {error}")
    with pytest.raises(ssl.SSLError) as refused:
        handshake(hub.port, old).close()
    if "NO_PROTOCOLS_AVAILABLE" in str(refused.value) or "NO_CIPHERS_AVAILABLE" in str(refused.value):
        pytest.skip(f"the local OpenSSL will not try TLS 1.1: {refused.value}")
    # The hub's answer: a protocol_version alert.
    assert "PROTOCOL_VERSION" in str(refused.value).upper(), refused.value


def test_expired_and_misnamed_certificates_are_refused_by_the_client(hub_factory, certs):
    expired = tls_hub(hub_factory, *certs.server("expired", days=-1))
    with pytest.raises(ssl.SSLCertVerificationError, match="expired"):
        handshake(expired.port, certs.client_context()).close()
    other = tls_hub(hub_factory, *certs.server("other", sans="DNS:other.example"))
    with pytest.raises(ssl.SSLCertVerificationError, match="[Hh]ostname mismatch|doesn't match|not valid for"):
        handshake(other.port, certs.client_context()).close()
    # The same hub is fine for a client asking for the name it has.
    with handshake(other.port, certs.client_context(), host="other.example"):
        pass


def test_plain_http_to_the_tls_port_fails_and_a_silent_client_is_cut_off(hub_factory, certs):
    hub = tls_hub(hub_factory, *certs.server("plain"), "--request-timeout", "1s")
    with socket.create_connection(("127.0.0.1", hub.port), timeout=5) as plain:
        plain.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        answer = plain.recv(4096)
        # Nothing HTTP comes back: at most a TLS alert record (type 21), then the close.
        assert not answer.startswith(b"HTTP/"), answer
        assert answer == b"" or answer[0] == 21, answer
    with socket.create_connection(("127.0.0.1", hub.port), timeout=5) as silent:
        started = time.monotonic()
        assert silent.recv(1) == b""  # closed by the hub, no handshake ever started
        assert time.monotonic() - started < 4.5


async def test_sighup_reloads_the_certificate_and_open_connections_stay(hub_factory, certs, tmp_path):
    first_chain, first_key = certs.server("first")
    second_chain, second_key = certs.server("second")
    chain, key = tmp_path / "hub.pem", tmp_path / "hub.key"
    shutil.copy(first_chain, chain)
    shutil.copy(first_key, key)
    hub = tls_hub(hub_factory, chain, key)
    context = certs.client_context()
    with handshake(hub.port, context) as tls:
        assert tls.getpeercert(binary_form=True) == leaf_der(first_chain)
    ws = await ws_connect(f"wss://localhost:{hub.port}/ws", ssl=context)
    try:
        await subscribe(ws, "reload")

        # A half-replaced pair (the new certificate, the old key) is refused: the old one stays.
        shutil.copy(second_chain, chain)
        hub.signal(signal.SIGHUP)
        await wait_for(lambda: "TLS certificate not reloaded" in hub.stderr, what="the refused reload's log line")
        assert "does not fit" in hub.stderr
        with handshake(hub.port, context) as tls:
            assert tls.getpeercert(binary_form=True) == leaf_der(first_chain)

        shutil.copy(second_key, key)
        hub.signal(signal.SIGHUP)
        await wait_for(lambda: "TLS certificate reloaded" in hub.stderr, what="the reload's log line")
        with handshake(hub.port, context) as tls:
            assert tls.getpeercert(binary_form=True) == leaf_der(second_chain)

        # The WebSocket opened on the first certificate still works, both ways.
        async with httpx.AsyncClient(base_url=f"https://localhost:{hub.port}", verify=context, timeout=10) as client:
            response = await client.post("/api/publish", json={"topic": "reload", "data": "after"})
            assert response.status_code == 200, response.text
        assert (await recv_type(ws, "message"))["data"] == "after"
        assert hub.running
    finally:
        await ws.close()


def test_redirect_listener_answers_308_to_https(hub_factory, certs):
    redirect_port = free_port()
    hub = tls_hub(hub_factory, *certs.server("redirect"), "--tls-redirect-port", str(redirect_port))
    with httpx.Client(timeout=10, follow_redirects=False) as client:
        response = client.get(f"http://127.0.0.1:{redirect_port}/demo?room=lobby&x=1")
        assert response.status_code == 308
        assert response.headers["location"] == f"https://127.0.0.1:{hub.port}/demo?room=lobby&x=1"
        # No WebSocket, SSE or API there: an upgrade request is redirected like any other.
        upgrade = client.get(f"http://127.0.0.1:{redirect_port}/ws", headers={
            "Host": f"localhost:{redirect_port}", "Connection": "Upgrade", "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
        assert upgrade.status_code == 308
        assert upgrade.headers["location"] == f"https://localhost:{hub.port}/ws"
        api = client.post(f"http://127.0.0.1:{redirect_port}/api/publish", json={"topic": "t", "data": 1})
        assert api.status_code == 308
    # Following it lands on the hub, over TLS.
    with httpx.Client(timeout=10, verify=certs.client_context(), follow_redirects=True) as client:
        assert client.get(f"http://localhost:{redirect_port}/health").json() == {"status": "ok"}


@pytest.mark.parametrize("subscriber_url", ["wss://127.0.0.1:{port}/ws", "https://localhost:{port}/sse?topic={{topic}}"])
def test_bench_fanout_over_tls_delivers_everything(hub_factory, certs, subscriber_url):
    # `chorus bench` speaks TLS to wss:// and https:// URLs (for TLS vs plain CPU per delivery).
    hub = tls_hub(hub_factory, *certs.server("bench"))
    done = subprocess.run([chorus_bin(), "bench", "fanout", "--subscribe-url", subscriber_url.format(port=hub.port),
                           "--publish-url", f"https://127.0.0.1:{hub.port}/api/publish", "--subscribers", "30",
                           "--topics", "3", "--probe", "10", "--rate", "30", "--duration", "1s",
                           "--server-pid", str(hub.pid)], capture_output=True, text=True, timeout=60, env=clean_env())
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["published"] > 0 and result["publish_errors"] == 0 and result["subscribe_failures"] == 0
    assert result["deliveries"] == result["expected_deliveries"] > 0
    assert result["lost"] == 0 and result["reordered"] == 0


def test_bad_tls_settings_stop_the_start_with_the_reason(certs, tmp_path):
    chain, key = certs.server("bad")
    _, other_key = certs.server("bad-other")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    cases = [
        (["--tls-cert", str(chain)], "tls_cert is set but tls_key is not"),
        (["--tls-key", str(key)], "tls_key is set but tls_cert is not"),
        (["--tls-cert", str(tmp_path / "missing.pem"), "--tls-key", str(key)], "tls_cert"),
        (["--tls-cert", str(junk), "--tls-key", str(key)], "tls_cert"),
        (["--tls-cert", str(chain), "--tls-key", str(junk)], "tls_key"),
        (["--tls-cert", str(chain), "--tls-key", str(other_key)], "does not fit"),
        (["--tls-redirect-port", "18080"], "needs tls_cert and tls_key"),
    ]
    for args, reason in cases:
        result = run_cli("serve", "--port", "0", *args)
        assert result.returncode != 0, (args, result.stderr)
        assert reason in result.stderr, (args, result.stderr)
        assert "listening" not in result.stderr


CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None, reason="chromium and chromedriver are not installed")
def test_chromium_loads_the_demo_over_https_and_connects_over_wss(hub_factory, certs, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    hub = tls_hub(hub_factory, *certs.server("browser"))
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
                     f"--user-data-dir={tmp_path / 'profile'}",
                     # Trust the test CA (by its public key) and nothing else that is unknown.
                     f"--ignore-certificate-errors-spki-list={certs.spki_hash()}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        driver.set_page_load_timeout(15)
        driver.get(f"https://localhost:{hub.port}/demo")
        assert driver.execute_script("return location.protocol") == "https:"
        # As test_browser.py's DemoPage: take a name, then the page connects.
        field = driver.find_element(By.ID, "name")
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys("Tessa", Keys.ENTER)
        WebDriverWait(driver, 15, poll_frequency=0.1).until(
            lambda d: d.find_element(By.ID, "status").get_attribute("data-state") == "connected")
        # Its socket is the hub's one WebSocket connection, so it came over wss://.
        with httpx.Client(base_url=f"https://localhost:{hub.port}", verify=certs.client_context(), timeout=10) as client:
            stats = client.get("/api/stats")
        assert stats.status_code == 200, stats.text
        assert stats.json()["connections"]["by_transport"]["websocket"] == 1, stats.text
    finally:
        driver.quit()

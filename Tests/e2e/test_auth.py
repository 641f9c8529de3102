"""Authentication: HS256 / RS256 / ES256 / JWKS client tokens, exp & nbf, the auth frame,
anonymous access, the HTTP API's API key vs client JWTs, SSE tokens, and `chorus token`."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conftest import (OTHER_SECRET, SECRET, Hub, bearer, hs256, recv_frame,
                      recv_until_closed, roundtrip, run_cli, sse_connect, wait_for, ws_connect,
                      ws_connect_as)

API_KEY = "auth-test-api-key"


def unique(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict, payload: dict, key: bytes | None) -> str:
    """A JWT built by hand (for alg=none and HMAC-with-public-key tokens PyJWT refuses to make)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    sig = b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(sig)}"


def claims(user: str = "alice", ttl: int = 600) -> dict:
    return {"sub": user, "exp": int(time.time()) + ttl}


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_other = ec.generate_private_key(ec.SECP256R1())

    def pem(k) -> bytes:
        return k.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    (d / "rsa.pem").write_bytes(pem(rsa_key))
    (d / "ec.pem").write_bytes(pem(ec_key))
    rjwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    rjwk.update(kid="rsa-1", alg="RS256", use="sig")
    ejwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
    ejwk.update(kid="ec-1", alg="ES256", use="sig")
    (d / "jwks.json").write_text(json.dumps({"keys": [rjwk, ejwk]}))
    return {
        "dir": d, "rsa": rsa_key, "rsa_other": rsa_other, "ec": ec_key, "ec_other": ec_other,
        "rsa_pem": str(d / "rsa.pem"), "ec_pem": str(d / "ec.pem"), "jwks": str(d / "jwks.json"),
        "rsa_pem_bytes": pem(rsa_key),
    }


@pytest.fixture(scope="module")
def secret_hub():
    """JWT secret + API key, anonymous off (the default once a key is configured)."""
    h = Hub(["--jwt-secret", SECRET, "--api-key", API_KEY]).start()
    yield h
    h.stop()


async def expect_rejected_at_connect(ws, reason_hint: str = "") -> None:
    frames, code, _ = await recv_until_closed(ws)
    assert [f["type"] for f in frames] == ["error", "disconnect"], (reason_hint, frames)
    assert frames[0]["code"] == "unauthorized", frames
    assert frames[1]["code"] == 4001 and isinstance(frames[1]["reason"], str), frames
    assert code == 4001, (reason_hint, code)


# -- HS256 ------------------------------------------------------------------------------------

@pytest.mark.parametrize("via", ["header", "query"])
async def test_hs256_token_at_connect(secret_hub, via):
    token = hs256(SECRET, "alice", ttl=600)
    exp = jwt.decode(token, SECRET, algorithms=["HS256"])["exp"]
    url = secret_hub.ws()
    ws = await ws_connect(url, headers=bearer(token)) if via == "header" else \
        await ws_connect(secret_hub.ws(token=token))
    async with ws:
        ok = await recv_frame(ws)
        assert ok["type"] == "auth_success" and ok["user"] == "alice" and ok["client"], ok
        # expires_at is the token's exp (the hub uses milliseconds, like `ts`)
        assert ok["expires_at"] in (exp, exp * 1000), ok
        topic = unique("hs.")
        await roundtrip(ws, {"type": "subscribe", "topic": topic})
        ack = await roundtrip(ws, {"type": "publish", "topic": topic, "data": 1})
        assert ack["type"] == "ack", ack
        m = await recv_frame(ws)
        assert m["from"] == {"user": "alice", "client": ok["client"]}, m


@pytest.mark.parametrize("case", ["wrong_secret", "garbage", "alg_none", "expired", "not_yet_valid",
                                  "no_subject", "tampered"])
@pytest.mark.parametrize("via", ["header", "query"])
async def test_bad_tokens_rejected_at_connect(secret_hub, case, via):
    now = int(time.time())
    token = {
        "wrong_secret": lambda: hs256(OTHER_SECRET, "alice"),
        "garbage": lambda: "not.a.jwt",
        "alg_none": lambda: forge({"alg": "none", "typ": "JWT"}, claims(), None),
        "expired": lambda: hs256(SECRET, "alice", ttl=-30),
        "not_yet_valid": lambda: hs256(SECRET, "alice", nbf=now + 600),
        "no_subject": lambda: hs256(SECRET, None),
        "tampered": lambda: _tamper(hs256(SECRET, "alice")),
    }[case]()
    ws = await ws_connect(secret_hub.ws(), headers=bearer(token)) if via == "header" else \
        await ws_connect(secret_hub.ws(token=token))
    await expect_rejected_at_connect(ws, case)


@pytest.mark.parametrize("case, claims_, accepted", [
    ("right issuer and audience", {"iss": "https://id.example", "aud": "chorus"}, True),
    ("audience among several", {"iss": "https://id.example", "aud": ["other", "chorus"]}, True),
    ("wrong issuer", {"iss": "https://evil.example", "aud": "chorus"}, False),
    ("no issuer", {"aud": "chorus"}, False),
    ("wrong audience", {"iss": "https://id.example", "aud": "other"}, False),
    ("no audience", {"iss": "https://id.example"}, False),
])
async def test_issuer_and_audience_when_configured(hub_factory, case, claims_, accepted):
    h = hub_factory(["--jwt-secret", SECRET, "--jwt-issuer", "https://id.example", "--jwt-audience", "chorus"])
    ws = await ws_connect(h.ws(), headers=bearer(hs256(SECRET, "alice", **claims_)))
    if accepted:
        assert (await recv_frame(ws))["type"] == "auth_success", case
        await ws.close()
    else:
        await expect_rejected_at_connect(ws, case)


def _tamper(token: str) -> str:
    header, payload, sig = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=="))
    body["sub"] = "mallory"
    return f"{header}.{b64url(json.dumps(body).encode())}.{sig}"


async def test_header_token_takes_precedence_over_query(secret_hub):
    good, bad = hs256(SECRET, "hank"), "garbage.token.x"
    async with await ws_connect(secret_hub.ws(token=bad), headers=bearer(good)) as ws:
        ok = await recv_frame(ws)
        assert ok["type"] == "auth_success" and ok["user"] == "hank", ok


async def test_anonymous_off_when_key_configured_then_auth_frame(secret_hub):
    async with await ws_connect(secret_hub.ws()) as ws:
        for i, frame in enumerate([
            {"type": "subscribe", "topic": "a.b"},
            {"type": "publish", "topic": "a.b", "data": 1},
            {"type": "unsubscribe", "topic": "a.b"},
            {"type": "direct", "to": "bob", "event": "x", "data": 1},
            {"type": "chat:send", "data": 1},
        ]):
            reply = await roundtrip(ws, {**frame, "id": i})
            assert reply["type"] == "error" and reply["code"] == "unauthorized" and reply["id"] == i, reply
        assert await roundtrip(ws, {"type": "ping", "id": "p"}) == {"type": "pong", "id": "p"}

        token = hs256(SECRET, "alice")
        ok = await roundtrip(ws, {"type": "auth", "id": "a1", "token": token})
        assert ok["type"] == "auth_success" and ok["id"] == "a1" and ok["user"] == "alice" and ok["client"], ok
        reply = await roundtrip(ws, {"type": "subscribe", "id": 9, "topic": "a.b"})
        assert reply == {"type": "subscribed", "id": 9, "topic": "a.b"}


async def test_topics_at_connect_need_a_token_when_anonymous_is_off(secret_hub):
    async with await ws_connect(secret_hub.ws(topics=["locked.topic"])) as ws:
        frame = await recv_frame(ws)
        assert frame["type"] == "error" and frame["code"] == "unauthorized", frame
        assert await roundtrip(ws, {"type": "ping", "id": 1}) == {"type": "pong", "id": 1}
    async with secret_hub.http(headers=bearer(API_KEY)) as c:
        topics = [t["topic"] for t in (await c.get("/api/topics")).json()["topics"]]
    assert "locked.topic" not in topics


async def test_bad_auth_frame(secret_hub):
    """A rejected auth frame gets `error` unauthorized (echoing the id), then the hub ends the
    connection with `disconnect` 4001, the close code for an invalid token."""
    async with await ws_connect(secret_hub.ws()) as ws:
        err = await roundtrip(ws, {"type": "auth", "id": 3, "token": hs256(OTHER_SECRET, "alice")})
        assert err["type"] == "error" and err["code"] == "unauthorized" and err["id"] == 3, err
        frames, code, _ = await recv_until_closed(ws)
        assert [f["type"] for f in frames] == ["disconnect"] and frames[0]["code"] == 4001, frames
        assert code == 4001


async def test_reauth_as_other_user_is_forbidden_and_same_user_refreshes(secret_hub):
    async with await ws_connect_as(secret_hub.ws(), hs256(SECRET, "alice", ttl=600), "alice") as ws:
        err = await roundtrip(ws, {"type": "auth", "id": 1, "token": hs256(SECRET, "bob")})
        assert err["type"] == "error" and err["code"] == "forbidden" and err["id"] == 1, err
        # still open, still alice
        topic = unique("re.")
        await roundtrip(ws, {"type": "subscribe", "topic": topic})
        assert (await roundtrip(ws, {"type": "publish", "topic": topic, "data": 1}))["type"] == "ack"
        assert (await recv_frame(ws))["from"]["user"] == "alice"

        longer = hs256(SECRET, "alice", ttl=7200)
        ok = await roundtrip(ws, {"type": "auth", "id": 2, "token": longer})
        assert ok["type"] == "auth_success" and ok["user"] == "alice" and ok["id"] == 2, ok
        exp = jwt.decode(longer, SECRET, algorithms=["HS256"])["exp"]
        assert ok["expires_at"] in (exp, exp * 1000), ok


async def test_expiry_mid_connection_closes_with_4001(secret_hub):
    exp = int(time.time()) + 2
    token = hs256(SECRET, "alice", ttl=None, exp=exp)
    async with await ws_connect_as(secret_hub.ws(), token, "alice") as ws:
        assert (await roundtrip(ws, {"type": "ping", "id": 1}))["type"] == "pong"
        frames, code, _ = await recv_until_closed(ws, timeout=(exp - time.time()) + 2.5)
        arrived = time.time()
        assert [f["type"] for f in frames] == ["disconnect"], frames
        assert frames[0]["code"] == 4001, frames
        assert code == 4001
        assert exp - 0.5 <= arrived <= exp + 2.0, f"closed {arrived - exp:+.2f}s after exp"


async def test_reauth_extends_the_connection(secret_hub):
    exp = int(time.time()) + 2
    async with await ws_connect_as(secret_hub.ws(), hs256(SECRET, "alice", ttl=None, exp=exp), "alice") as ws:
        ok = await roundtrip(ws, {"type": "auth", "token": hs256(SECRET, "alice", ttl=600)})
        assert ok["type"] == "auth_success", ok
        # past the first token's expiry (+ the 2 s grace the hub has to act), the connection lives on
        while time.time() < exp + 2.0:
            assert await roundtrip(ws, {"type": "ping", "id": "k"}) == {"type": "pong", "id": "k"}
            await asyncio.sleep(0.25)


# -- RS256 / ES256 / JWKS ---------------------------------------------------------------------

@pytest.mark.parametrize("kind,alg", [("rsa", "RS256"), ("ec", "ES256")])
async def test_public_key_pem(hub_factory, keys, kind, alg):
    h = hub_factory(["--jwt-public-key", keys[f"{kind}_pem"]])
    good = jwt.encode(claims("pk-user"), keys[kind], algorithm=alg)
    async with await ws_connect_as(h.ws(), good, "pk-user"):
        pass
    wrong_key = jwt.encode(claims(), keys[f"{kind}_other"], algorithm=alg)
    await expect_rejected_at_connect(await ws_connect(h.ws(), headers=bearer(wrong_key)), "wrong key")
    expired = jwt.encode(claims(ttl=-30), keys[kind], algorithm=alg)
    await expect_rejected_at_connect(await ws_connect(h.ws(), headers=bearer(expired)), "expired")
    none = forge({"alg": "none", "typ": "JWT"}, claims(), None)
    await expect_rejected_at_connect(await ws_connect(h.ws(), headers=bearer(none)), "alg none")
    # the classic algorithm confusion: HS256 with the public key's PEM text as the HMAC secret
    pem = open(keys[f"{kind}_pem"], "rb").read()
    confused = forge({"alg": "HS256", "typ": "JWT"}, claims(), pem)
    await expect_rejected_at_connect(await ws_connect(h.ws(), headers=bearer(confused)), "HS256 with PEM")


async def test_jwks_file(hub_factory, keys):
    h = hub_factory(["--jwks-file", keys["jwks"]])
    rs = jwt.encode(claims("jwks-r"), keys["rsa"], algorithm="RS256", headers={"kid": "rsa-1"})
    es = jwt.encode(claims("jwks-e"), keys["ec"], algorithm="ES256", headers={"kid": "ec-1"})
    async with await ws_connect_as(h.ws(), rs, "jwks-r"), await ws_connect_as(h.ws(), es, "jwks-e"):
        pass
    foreign = jwt.encode(claims(), keys["rsa_other"], algorithm="RS256", headers={"kid": "rsa-1"})
    await expect_rejected_at_connect(await ws_connect(h.ws(), headers=bearer(foreign)), "key not in set")
    foreign_ec = jwt.encode(claims(), keys["ec_other"], algorithm="ES256", headers={"kid": "ec-1"})
    await expect_rejected_at_connect(await ws_connect(h.ws(), headers=bearer(foreign_ec)), "EC key not in set")
    none = forge({"alg": "none", "typ": "JWT", "kid": "rsa-1"}, claims(), None)
    await expect_rejected_at_connect(await ws_connect(h.ws(), headers=bearer(none)), "alg none")


async def test_hs256_token_rejected_by_public_key_hub(hub_factory, keys):
    h = hub_factory(["--jwt-public-key", keys["rsa_pem"]])
    await expect_rejected_at_connect(await ws_connect(h.ws(), headers=bearer(hs256(SECRET))), "HS256")


# -- anonymous --------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["flag", "env"])
async def test_allow_anonymous_with_key(hub_factory, how):
    if how == "flag":
        h = hub_factory(["--jwt-secret", SECRET, "--allow-anonymous", "true"])
    else:
        h = hub_factory(["--jwt-secret", SECRET], env={"CHORUS_ALLOW_ANONYMOUS": "true"})
    topic = unique("anon.")
    async with await ws_connect(h.ws(topics=[topic])) as anon:
        assert await recv_frame(anon) == {"type": "subscribed", "topic": topic}
        ack = await roundtrip(anon, {"type": "publish", "id": 1, "topic": topic, "data": "hi"})
        assert ack["type"] == "ack", ack
        m = await recv_frame(anon)
        assert m["data"] == "hi" and (m.get("from") or {}).get("user") is None, m
    # a token is still honoured
    async with await ws_connect_as(h.ws(), hs256(SECRET, "named"), "named"):
        pass
    # and an invalid one still rejected
    await expect_rejected_at_connect(await ws_connect(h.ws(), headers=bearer(hs256(OTHER_SECRET))))
    # SSE without a token is accepted too
    async with sse_connect(h, topics=[topic]) as stream:
        assert stream.response.status_code == 200


async def test_api_key_only_hub_turns_anonymous_off(hub_factory):
    h = hub_factory(["--api-key", API_KEY])
    async with await ws_connect(h.ws()) as ws:
        err = await roundtrip(ws, {"type": "subscribe", "id": 1, "topic": "a"})
        assert err["type"] == "error" and err["code"] == "unauthorized", err
    async with h.http() as c:
        r = await c.get("/sse?topic=a")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        r = await c.post("/api/publish", json={"topic": "a", "data": 1})
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


# -- HTTP API auth ----------------------------------------------------------------------------

ADMIN_CALLS = [
    ("GET", "/api/topics", None),
    ("GET", "/api/connections", None),
    ("GET", "/api/stats", None),
    ("POST", "/api/users/bob/send", {"data": 1}),
    ("POST", "/api/users/bob/disconnect", {}),
]
PUBLISH_CALLS = [
    ("POST", "/api/publish", {"topic": "api.auth", "data": 1}),
    ("POST", "/api/broadcast", {"topics": ["api.auth"], "data": 1}),
]


async def test_api_key_reaches_everything(secret_hub):
    async with secret_hub.http(headers=bearer(API_KEY)) as c:
        for method, path, body in ADMIN_CALLS + PUBLISH_CALLS:
            r = await c.request(method, path, json=body)
            assert r.status_code in (200, 202), (method, path, r.status_code, r.text)


async def test_client_jwt_may_only_publish(secret_hub):
    token = hs256(SECRET, "publisher")
    async with secret_hub.http(headers=bearer(token)) as c:
        for method, path, body in PUBLISH_CALLS:
            r = await c.request(method, path, json=body)
            assert r.status_code == 200, (path, r.status_code, r.text)
        for method, path, body in ADMIN_CALLS:
            r = await c.request(method, path, json=body)
            # authenticated, but not allowed: forbidden (403), not "who are you?" (401)
            assert r.status_code == 403, (method, path, r.status_code, r.text)
            assert r.json()["error"]["code"] == "forbidden", r.text


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer wrong-key"},
    {"Authorization": f"Bearer {hs256(OTHER_SECRET)}"},
    {"Authorization": f"Bearer {hs256(SECRET, ttl=-30)}"},
    {"Authorization": f"Basic {base64.b64encode(b'user:' + API_KEY.encode()).decode()}"},
    {"Authorization": API_KEY},
], ids=["missing", "wrong-key", "foreign-jwt", "expired-jwt", "basic", "no-scheme"])
async def test_api_unauthorized(secret_hub, headers):
    async with secret_hub.http() as c:
        for method, path, body in ADMIN_CALLS + PUBLISH_CALLS:
            r = await c.request(method, path, json=body, headers=headers)
            assert r.status_code == 401, (method, path, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/json")
            assert r.json()["error"]["code"] == "unauthorized", r.text


async def test_http_publish_with_jwt_reaches_subscribers(secret_hub):
    topic = unique("jwtpub.")
    async with await ws_connect_as(secret_hub.ws(topics=[topic]), hs256(SECRET, "sub"), "sub") as ws, \
            secret_hub.http(headers=bearer(hs256(SECRET, "pub"))) as c:
        assert await recv_frame(ws) == {"type": "subscribed", "topic": topic}
        r = await c.post("/api/publish", json={"topic": topic, "data": "from-jwt"})
        assert r.status_code == 200, r.text
        m = await recv_frame(ws)
        assert m["data"] == "from-jwt" and m["message_id"] == r.json()["message_id"]


# -- SSE tokens -------------------------------------------------------------------------------

@pytest.mark.parametrize("via", ["header", "query", "cookie"])
async def test_sse_token(secret_hub, via):
    token = hs256(SECRET, "sse-user")
    kw = {"header": {"headers": bearer(token)}, "query": {"token": token},
          "cookie": {"cookies": {"chorus_token": token}}}[via]
    topic = unique("ssea.")
    async with sse_connect(secret_hub, topics=[topic], **kw) as stream:
        async with secret_hub.http(headers=bearer(API_KEY)) as c:
            async def listed():
                conns = (await c.get("/api/connections")).json()["connections"]
                return any(x["user"] == "sse-user" and x["transport"] == "sse" for x in conns)
            await wait_for(listed, what="SSE connection of sse-user")
            r = await c.post("/api/publish", json={"topic": topic, "data": via})
            assert r.status_code == 200, r.text
        assert (await stream.next_event()).json()["data"] == via


@pytest.mark.parametrize("case", ["missing", "wrong", "expired", "garbage-cookie"])
async def test_sse_bad_token_is_401_before_stream(secret_hub, case):
    token = {"missing": None, "wrong": hs256(OTHER_SECRET), "expired": hs256(SECRET, ttl=-30),
             "garbage-cookie": None}[case]
    cookies = {"chorus_token": "garbage"} if case == "garbage-cookie" else None
    async with httpx.AsyncClient(timeout=5, cookies=cookies) as c:
        r = await c.get(secret_hub.sse(topics=["a"], token=token))
    assert r.status_code == 401, (case, r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), r.headers
    assert r.json()["error"]["code"] == "unauthorized"


# -- chorus token -----------------------------------------------------------------------------

def test_chorus_token_verifies_with_secret():
    before = int(time.time())
    r = run_cli("token", "--user", "alice", "--ttl", "1h", "--jwt-secret", SECRET)
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    assert token.count(".") == 2 and "\n" not in token
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    payload = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert payload["sub"] == "alice"
    assert before + 3600 - 5 <= payload["exp"] <= int(time.time()) + 3600 + 5, payload
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, OTHER_SECRET, algorithms=["HS256"])


def test_chorus_token_ttl_zero_means_no_expiry():
    r = run_cli("token", "--user", "bob", "--ttl", "0", "--jwt-secret", SECRET)
    assert r.returncode == 0, r.stderr
    payload = jwt.decode(r.stdout.strip(), SECRET, algorithms=["HS256"])
    assert payload["sub"] == "bob" and "exp" not in payload


def test_chorus_token_reads_secret_from_env_and_config(tmp_path):
    r = run_cli("token", "--user", "env-user", env={"CHORUS_JWT_SECRET": SECRET})
    assert r.returncode == 0, r.stderr
    assert jwt.decode(r.stdout.strip(), SECRET, algorithms=["HS256"])["sub"] == "env-user"
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"jwt_secret": OTHER_SECRET}))
    r = run_cli("token", "--user", "cfg-user", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    assert jwt.decode(r.stdout.strip(), OTHER_SECRET, algorithms=["HS256"])["sub"] == "cfg-user"


async def test_chorus_token_is_accepted_by_the_hub(hub_factory):
    r = run_cli("token", "--user", "cli-user", "--ttl", "10m", "--jwt-secret", SECRET)
    assert r.returncode == 0, r.stderr
    h = hub_factory(env={"CHORUS_JWT_SECRET": SECRET})
    async with await ws_connect_as(h.ws(), r.stdout.strip(), "cli-user"):
        pass


@pytest.mark.parametrize("args,env", [
    (["token", "--ttl", "1h", "--jwt-secret", SECRET], {}),            # no --user
    (["token", "--user", "a"], {}),                                      # no secret
    (["token", "--user", "a", "--ttl", "soon", "--jwt-secret", SECRET], {}),
    # A huge TTL used to trap (exit 132) instead of being refused.
    (["token", "--user", "a", "--ttl", "100000000000000000000", "--jwt-secret", SECRET], {}),
    (["token", "--user", "a", "--subscribe", "a..b", "--jwt-secret", SECRET], {}),
    (["token", "--user", "a", "--claim", "no-equals-sign", "--jwt-secret", SECRET], {}),
    (["token", "--user", "a", "--claim", "sub=bob", "--jwt-secret", SECRET], {}),
    (["token", "--user", "a", "--no-such-option", "--jwt-secret", SECRET], {}),
])
def test_chorus_token_errors_exit_2(args, env):
    r = run_cli(*args, env=env)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.startswith("chorus: ") and len(r.stderr.strip()) > len("chorus: "), r.stderr
    assert "chorus serve --help" not in r.stderr, r.stderr
    assert r.stdout == ""


def test_chorus_token_mints_claim_lists_and_other_claims():
    r = run_cli("token", "--user", "ann", "--subscribe", "game.*", "--subscribe", "lobby",
                "--publish", "game.moves", "--claim", "iss=my-app", "--claim", 'aud=["chorus"]',
                "--claim", "level=3", "--claim", 'odd=1,"x":2', "--jwt-secret", SECRET)
    assert r.returncode == 0, r.stderr
    payload = jwt.decode(r.stdout.strip(), SECRET, algorithms=["HS256"], audience="chorus")
    assert payload["subscribe"] == ["game.*", "lobby"] and payload["publish"] == ["game.moves"], payload
    assert payload["iss"] == "my-app" and payload["aud"] == ["chorus"] and payload["level"] == 3, payload
    # Not one JSON value: kept as the string it is, never a second claim smuggled in.
    assert payload["odd"] == '1,"x":2' and "x" not in payload, payload


async def test_chorus_token_claim_lists_are_enforced_by_the_hub(hub_factory):
    r = run_cli("token", "--user", "ann", "--subscribe", "game.*", "--claim", "publish=[]", "--jwt-secret", SECRET)
    assert r.returncode == 0, r.stderr
    h = hub_factory(env={"CHORUS_JWT_SECRET": SECRET})
    async with await ws_connect_as(h.ws(), r.stdout.strip(), "ann") as ws:
        assert (await roundtrip(ws, {"type": "subscribe", "topic": "game.1"}))["type"] == "subscribed"
        reply = await roundtrip(ws, {"type": "subscribe", "topic": "chat"})
        assert reply["type"] == "error" and reply["code"] == "forbidden", reply
        reply = await roundtrip(ws, {"type": "publish", "topic": "game.1", "data": 1})
        assert reply["type"] == "error" and reply["code"] == "forbidden", reply


def test_chorus_token_with_short_secret_does_not_crash():
    """`chorus token --user alice --ttl 1h --jwt-secret S` (the documented example): either a
    token verifying with S, or a clean `chorus: ...` error with exit status 2; never a crash."""
    r = run_cli("token", "--user", "alice", "--ttl", "1h", "--jwt-secret", "S")
    assert r.returncode in (0, 2), (r.returncode, r.stderr[:400])
    if r.returncode == 0:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert jwt.decode(r.stdout.strip(), "S", algorithms=["HS256"])["sub"] == "alice"
    else:
        assert r.stderr.startswith("chorus: "), r.stderr[:400]


def test_serve_with_short_secret_does_not_crash():
    """A short --jwt-secret must either work or be refused cleanly (exit 2, `chorus: ...`)."""
    h = Hub(["--jwt-secret", "short"])
    try:
        h.start()
        started = True
    except Exception:
        started = False
    finally:
        code = h.stop()
    if not started:
        assert code == 2, (code, h.stderr[:600])
        assert "chorus: " in h.stderr, h.stderr[:600]

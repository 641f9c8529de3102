#!/usr/bin/env python3
"""Writes PyJWTFixtures.swift: tokens signed by PyJWT (an implementation independent of
ChorusJWT) with fresh keys, and those keys' public halves as PEM and as a JWKS.

Run it from this folder: python3 make-pyjwt-fixtures.py (needs PyJWT and cryptography)."""

import json

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

SECRET = "pyjwt-fixtures-secret-0123456789abcdef"
CLAIMS = {"sub": "py-user", "exp": 4102444800, "aud": ["chorus", "other"], "subscribe": ["game.*"]}

rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ec_key = ec.generate_private_key(ec.SECP256R1())
ec384_key = ec.generate_private_key(ec.SECP384R1())
ed_key = ed25519.Ed25519PrivateKey.generate()


def pem(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def jwk(algorithm, key, **members) -> dict:
    value = json.loads(algorithm.to_jwk(key.public_key()))
    value.update(members)
    return value


jwks = {"keys": [
    jwk(jwt.algorithms.RSAAlgorithm, rsa_key, kid="rsa-1", alg="RS256", use="sig"),
    jwk(jwt.algorithms.RSAAlgorithm, rsa_key, kid="ps-1", alg="PS256"),
    jwk(jwt.algorithms.ECAlgorithm, ec_key, kid="ec-1", alg="ES256"),
    jwk(jwt.algorithms.ECAlgorithm, ec384_key, kid="ec384-1"),
    jwk(jwt.algorithms.OKPAlgorithm, ed_key, kid="ed-1"),
]}
tokens = {
    "hs256": jwt.encode(CLAIMS, SECRET, algorithm="HS256"),
    "rs256": jwt.encode(CLAIMS, rsa_key, algorithm="RS256"),
    "es256": jwt.encode(CLAIMS, ec_key, algorithm="ES256"),
    "rs256Kid": jwt.encode(CLAIMS, rsa_key, algorithm="RS256", headers={"kid": "rsa-1"}),
    "ps256Kid": jwt.encode(CLAIMS, rsa_key, algorithm="PS256", headers={"kid": "ps-1"}),
    "es256Kid": jwt.encode(CLAIMS, ec_key, algorithm="ES256", headers={"kid": "ec-1"}),
    "es384Kid": jwt.encode(CLAIMS, ec384_key, algorithm="ES384", headers={"kid": "ec384-1"}),
    "edDSAKid": jwt.encode(CLAIMS, ed_key, algorithm="EdDSA", headers={"kid": "ed-1"}),
}

lines = [
    "// Written by make-pyjwt-fixtures.py; do not edit. The private keys were discarded.",
    "enum PyJWTFixtures {",
    f"    static let secret = {json.dumps(SECRET)}",
    f'    static let rsaPublicKeyPEM = """\n{pem(rsa_key)}"""',
    f'    static let ecPublicKeyPEM = """\n{pem(ec_key)}"""',
    f"    static let jwks = #\"{json.dumps(jwks)}\"#",
]
lines += [f"    static let {name} = {json.dumps(token)}" for name, token in tokens.items()]
lines.append("}")
with open("PyJWTFixtures.swift", "w") as out:
    out.write("\n".join(lines) + "\n")

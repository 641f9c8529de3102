"""docs/openapi.yaml is a valid OpenAPI 3 document and describes every route the hub serves."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from openapi_spec_validator import validate

ROOT = Path(__file__).resolve().parents[2]


def test_openapi_document_is_valid_and_complete():
    spec = yaml.safe_load((ROOT / "docs/openapi.yaml").read_text())
    validate(spec)
    source = (ROOT / "Sources/ChorusServer/HTTP/APIRoutes.swift").read_text()
    # Routes registered on the router, or on a group of it (`let api = router.group("/api")`).
    prefixes = {"router": ""} | dict(re.findall(r'let (\w+) = router\.group\("([^"]+)"\)', source))
    routes = set()
    for receiver, method, path in re.findall(r'(\w+)\.(get|post|put|patch|delete)\("([^"]+)"', source):
        if receiver in prefixes:
            routes.add((method, re.sub(r":(\w+)", r"{\1}", prefixes[receiver] + path)))
    assert ("post", "/api/publish") in routes and ("get", "/health") in routes, routes
    documented = {(method, path) for path, item in spec["paths"].items() for method in item}
    assert routes - documented == set(), "routes missing from openapi.yaml"
    assert documented - routes == set(), "openapi.yaml describes routes the hub does not serve"
    # Every authenticated endpoint documents refusals by limit and by authorization.
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if path.startswith("/api/"):
                assert {"401", "403", "429"} <= set(operation["responses"]), (method, path)

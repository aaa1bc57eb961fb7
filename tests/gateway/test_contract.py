"""The combined OpenAPI document says what the API really answers: every status, every content type, every code.

The whole system runs for real (the gateway and the four services, each verifying tokens
against the gateway's keys), and every operation of the combined document is sent the
requests each layer refuses: a body over the limit, a body of the wrong type, broken JSON,
a cursor we never issued, NUL in a text parameter, no token, a method the path does not
have. Whatever comes back must be declared for that operation: its status, its content
type, and for a problem its `code` among the status's `x-problem-codes`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.gateway.proxy import PROXIED
from tests.identity.tokens import bearer
from tests.system import live_system

PROBLEM = "application/problem+json"
METHODS = ("get", "put", "post", "delete", "patch")
MAX_BYTES = 4096


@pytest.fixture(scope="module")
async def system(database_url: str) -> AsyncIterator[tuple[str, Any, dict]]:
    # Limits on, as in production (every operation documents its 429), but never reached here.
    async with live_system(
        database_url, request_max_bytes=MAX_BYTES,
        rate_limit_burst=100_000, rate_limit_per_minute=100_000,
        rate_limit_anonymous_burst=100_000, rate_limit_anonymous_per_minute=100_000,
        rate_limit_token_burst=100_000, rate_limit_token_per_minute=100_000,
    ) as running:
        yield running.url, running.app, running.doc


def operations(doc: dict) -> list[tuple[str, str, dict]]:
    return [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items() if method in METHODS]


def concrete(path: str, op: dict) -> str:
    """The path with each parameter filled with a well-formed value of its type."""
    kinds = {p["name"]: p.get("schema", {}) for p in op.get("parameters", []) if p["in"] == "path"}

    def fill(match: re.Match) -> str:
        schema = kinds.get(match.group(1), {})
        return str(uuid.uuid4()) if schema.get("format") == "uuid" else "x1"

    return re.sub(r"\{([^}]+)\}", fill, path)


def json_body(op: dict) -> bool:
    return "application/json" in op.get("requestBody", {}).get("content", {})


def text_query_parameter(op: dict) -> str | None:
    for p in op.get("parameters", []):
        schema = p.get("schema", {})
        options = schema.get("anyOf", [schema])
        if p["in"] == "query" and any(o.get("type") == "string" and "format" not in o and "enum" not in o for o in options):
            if p["name"] != "cursor":
                return p["name"]
    return None


def assert_declared(op: dict, r: httpx.Response, why: str) -> None:
    responses = op["responses"]
    where = f"{op['operationId']} ({why}): {r.status_code} {r.text[:300]}"
    assert str(r.status_code) in responses, f"undeclared status: {where}"
    declared = responses[str(r.status_code)]
    content_type = r.headers.get("content-type", "").split(";")[0]
    if r.status_code >= 400:
        assert content_type == PROBLEM, f"a problem not served as problem+json: {where}"
        assert set(declared.get("content", {})) == {PROBLEM}, f"declared with another content type: {where}"
        code = r.json()["code"]
        assert code in declared["x-problem-codes"], f"code {code} not declared: {where}"


def probes(op: dict, method: str) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = [
        ("over the size limit", {"content": b"x" * (MAX_BYTES + 1), "headers": {"content-type": "application/json"}}),
        ("no token", {"auth": False}),
    ]
    if method in ("post", "put", "patch"):
        out.append(("a body of another type", {"content": b"name=x", "headers": {"content-type": "text/plain"}}))
    if json_body(op):
        out.append(("broken JSON", {"content": b'{"name": ', "headers": {"content-type": "application/json"}}))
        out.append(("JSON of the wrong shape", {"json": [1, 2, 3]}))
    if any(p["name"] == "cursor" for p in op.get("parameters", [])):
        out.append(("a cursor we never issued", {"params": {"cursor": "bm90LWEtY3Vyc29y"}}))
    name = text_query_parameter(op)
    if name:
        out.append((f"NUL in {name}", {"params": {name: "a\x00b"}}))
    return out


async def test_every_answer_of_every_layer_is_declared(system):
    url, app, doc = system
    admin = await bearer(app, roles=["admin"])
    checked = 0
    async with httpx.AsyncClient(timeout=20) as client:
        for path, method, op in operations(doc):
            target = url + concrete(path, op)
            for why, probe in probes(op, method):
                probe = dict(probe)
                headers = {**probe.pop("headers", {}), **({} if probe.pop("auth", True) is False else admin)}
                r = await client.request(method.upper(), target, headers=headers, **probe)
                assert_declared(op, r, why)
                checked += 1
    # Every operation of every service is in the document and was probed.
    assert {p.split("/")[2] for p, _, _ in operations(doc) if p.startswith("/api/")} == set(PROXIED)
    assert checked >= 2 * len(operations(doc))


async def test_a_method_a_path_does_not_have_is_405_with_allow_listing_exactly_its_methods(system):
    url, app, doc = system
    admin = await bearer(app, roles=["admin"])
    async with httpx.AsyncClient(timeout=20) as client:
        for path, item in doc["paths"].items():
            declared = {m.upper() for m in item if m in METHODS}
            op = next(op for m, op in item.items() if m in METHODS)
            for method in ("GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"):
                if method in declared:
                    continue
                r = await client.request(method, url + concrete(path, op), headers=admin)
                assert r.status_code == 405, f"{method} {path}: {r.status_code} {r.text[:200]}"
                assert r.headers["content-type"] == PROBLEM
                assert {m.strip() for m in r.headers["allow"].split(",")} == declared, f"{method} {path}"


async def test_no_operation_promises_fastapis_default_validation_body(system):
    _, _, doc = system
    text = str(doc)
    assert "HTTPValidationError" not in text
    for _, _, op in operations(doc):
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")):
                assert set(response["content"]) == {PROBLEM}, (op["operationId"], status)
        assert {"413", "500"} <= set(op["responses"]), op["operationId"]
        # The rate limit answers every operation but the gateway's own probes.
        probe = op["operationId"] in ("gateway_healthz", "gateway_readyz")
        assert ("429" in op["responses"]) is not probe, op["operationId"]


async def test_metrics_are_offered_to_no_one(system):
    _, _, doc = system
    assert not [p for p in doc["paths"] if p.endswith("/metrics")]


async def test_a_request_body_means_what_its_json_says(system):
    url, app, _ = system
    admin = await bearer(app, roles=["admin"])
    async with httpx.AsyncClient(timeout=20, headers=admin) as client:
        created = await client.post(f"{url}/identity/schools", json={"name": f"严格中学 {uuid.uuid4().hex[:6]}", "district": "鲤城区", "level": "middle"})
        assert created.status_code == 201, created.text
        school = f"{url}/identity/schools/{created.json()['id']}"
        for body in ({"disabled": 0}, {"disabled": "false"}, {"level": "MIDDLE"}, {"name": 7}):
            r = await client.patch(school, json=body)
            assert r.status_code == 422 and r.json()["code"] == "validation_failed", (body, r.text)
        r = await client.patch(school, content=b'{"district": "\xff"}', headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["code"] == "malformed_json", r.text
        r = await client.patch(school, json={"district": "a\x00b"})
        assert r.status_code == 422 and r.json()["errors"][0]["type"] == "text_invalid", r.text
        # Nothing of the refused requests was stored.
        after = (await client.get(school)).json()
        assert after["disabled"] is False and after["district"] == "鲤城区" and after["level"] == "middle"


async def test_every_text_a_client_sends_is_declared_without_nul(system):
    _, _, doc = system

    def plain_strings(node):
        if isinstance(node, dict):
            if node.get("type") == "string" and not {"enum", "const"} & set(node) and node.get("format", "password") == "password":
                yield node
            for value in node.values():
                yield from plain_strings(value)
        elif isinstance(node, list):
            for value in node:
                yield from plain_strings(value)

    found = list(plain_strings([doc["components"]["schemas"], [op.get("parameters") for _, _, op in operations(doc)]]))
    assert len(found) > 50
    for schema in found:
        assert not re.search(schema["pattern"], "a\x00b"), schema
    assert any(re.fullmatch(s["pattern"], "林小雨 ok") for s in found)


async def test_a_caller_who_may_not_call_learns_that_before_anything_about_the_body(system):
    url, app, _ = system
    student = await bearer(app, roles=["student"])
    async with httpx.AsyncClient(timeout=20) as client:
        for headers in ({}, student):
            r = await client.post(f"{url}/identity/schools", json={"name": "a\x00", "level": "nope"}, headers=headers)
            assert r.status_code == (401 if not headers else 403), r.text

"""The contract: every status and content type an operation can answer, written into its OpenAPI.

FastAPI documents what a route returns and what its decorator lists; the layers around the
route answer more than that (the middleware's 413, pagination's 400, the token check's 401,
the rate limit's 429), and FastAPI's default 422 promises a body we never send. Here each
operation's problems are collected from the code that answers them, by looking at what the
route really uses:

- every operation: `payload_too_large` (413, shared/middleware.py) and `internal_error` (500);
- a body method (POST, PUT, PATCH): `unsupported_media_type` (415, shared/middleware.py and
  shared/strict.py);
- parameters or a body: `validation_failed` (422); a JSON body: `malformed_json` (400); a form
  body: `malformed_body` (400);
- an access rule: 401 (`AccessRule.UNAUTHENTICATED`), with roles or scopes also 403
  (`AccessRule.FORBIDDEN`), and its "Who may call" line;
- `PageParams`: `invalid_cursor` (400); `IdempotencyKey`: its two problems;
- whatever the route lists itself with `problem_responses(...)`;
- and what the app adds for every operation (`extra`: the gateway's rate limit).

Every problem response is `application/problem+json` with the `Problem` schema, its
description lists the codes, and `x-problem-codes` lists them for machines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI, params
from fastapi.dependencies.models import Dependant

from shared.catalogue import CATALOGUE
from shared.problems import PROBLEM_JSON, Problem

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
CODES_KEY = "x-problem-codes"
EVERY_OPERATION = ("payload_too_large", "internal_error")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

# (route, method) -> extra problem codes the app answers for that operation.
Extra = Callable[[Any, str], Iterable[str]]


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def route_problems(route: Any, method: str) -> list[str]:
    """The problem codes an operation can answer, from what it uses (see the module docstring)."""
    from shared.auth import AccessRule, allow_public
    from shared.idempotency import IDEMPOTENCY_PROBLEMS, _idempotency
    from shared.pagination import PAGINATION_PROBLEMS, page_params

    codes: list[str] = list(EVERY_OPERATION)
    dependants = list(_dependants(route.dependant))
    calls = [d.call for d in dependants]
    has_params = any(
        d.path_params or d.query_params or d.header_params or d.cookie_params or d.body_params for d in dependants
    )
    if has_params:
        codes.append("validation_failed")
    if method in BODY_METHODS:
        codes.append("unsupported_media_type")
    body = [f for d in dependants for f in d.body_params]
    if body:
        forms = any(isinstance(f.field_info, params.Form) for f in body)
        codes.append("malformed_body" if forms else "malformed_json")
    for call in calls:
        if isinstance(call, AccessRule):
            codes.extend(call.UNAUTHENTICATED)
            if call.roles or call.scopes:
                codes.extend(call.FORBIDDEN)
        elif call is page_params:
            codes.extend(PAGINATION_PROBLEMS)
        elif call is _idempotency:
            codes.extend(IDEMPOTENCY_PROBLEMS)
    del allow_public  # a public route adds nothing
    for response in (route.responses or {}).values():
        codes.extend(response.get(CODES_KEY, ()))
    return list(dict.fromkeys(codes))


def problem_response(codes: Iterable[str]) -> dict[str, Any]:
    """The OpenAPI response object of a status answered with these problem codes."""
    codes = list(dict.fromkeys(codes))
    return {
        "description": "Problem: " + ", ".join(f"`{c}`" for c in codes),
        "content": {PROBLEM_JSON: {"schema": dict(PROBLEM_REF)}},
        CODES_KEY: codes,
    }


def set_problems(operation: dict[str, Any], codes: Iterable[str]) -> None:
    """Make `operation`'s problem responses exactly `codes` (merged with those it lists already)."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    by_status: dict[str, list[str]] = {}
    for status, response in list(responses.items()):
        if CODES_KEY in response:
            by_status.setdefault(status, []).extend(response[CODES_KEY])
            del responses[status]
    for code in codes:
        by_status.setdefault(str(CATALOGUE[code].status), []).append(code)
    # FastAPI's own 422 describes a body we never send.
    if "422" in responses and "HTTPValidationError" in str(responses["422"]):
        del responses["422"]
    for status, status_codes in by_status.items():
        if status in responses:
            raise ValueError(f"{operation.get('operationId')}: status {status} is both a problem and a success")
        responses[status] = problem_response(status_codes)
    operation["responses"] = dict(sorted(responses.items()))


def add_problem_schema(doc: dict[str, Any]) -> None:
    """Put `Problem` (and what it refers to) in the document's components; drop FastAPI's unused error schemas."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas.setdefault("Problem", schema)
    text = str(doc.get("paths", {}))
    for name in ("HTTPValidationError", "ValidationError"):
        if f"schemas/{name}'" not in text:
            schemas.pop(name, None)


# shared/strict.py refuses NUL in every text a client sends; the schemas say so.
NO_NUL = "^[^\\u0000]*$"


def state_text_rule(node: Any) -> None:
    """Give every plain string schema under `node` (a password too) the pattern that excludes NUL
    (one with another format, an enum, a constant or a pattern of its own says what it accepts)."""
    if isinstance(node, dict):
        if node.get("type") == "string" and not {"enum", "const", "pattern"} & set(node) and node.get("format", "password") == "password":
            node["pattern"] = NO_NUL
        for value in node.values():
            state_text_rule(value)
    elif isinstance(node, list):
        for value in node:
            state_text_rule(value)


def who_may_call(rule: str | None) -> str | None:
    if rule is None:
        return None
    return "anyone, no token needed" if rule == "public" else rule


def document_contract(app: FastAPI, *, extra: Extra | None = None) -> None:
    """Write each operation's problems and access rule into the app's OpenAPI (built once, cached)."""
    from shared.auth import rule_of
    from shared.routes import iter_api_routes

    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        doc = generate()
        routes = {(r.path, m): r for r in iter_api_routes(app) for m in r.methods}
        for path, item in doc.get("paths", {}).items():
            for method, operation in item.items():
                route = routes.get((path, method.upper()))
                if route is None:
                    continue
                codes = route_problems(route, method.upper())
                if extra is not None:
                    codes.extend(extra(route, method.upper()))
                set_problems(operation, codes)
                who = who_may_call(rule_of(route))
                if who is not None:
                    before = (operation.get("description") or "").rstrip()
                    operation["description"] = (before + "\n\n" if before else "") + f"**Who may call:** {who}."
        add_problem_schema(doc)
        state_text_rule(doc.get("components", {}).get("schemas", {}))
        for item in doc.get("paths", {}).values():
            state_text_rule([op.get("parameters", []) for op in item.values()])
            state_text_rule([op.get("requestBody", {}) for op in item.values()])
        app.openapi_schema = doc
        return doc

    app.openapi = openapi

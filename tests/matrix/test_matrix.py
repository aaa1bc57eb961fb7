"""Every role against every route of every service: who may call it, who gets 403, who 401, and which rows each sees.

The expectations are the table in tests/matrix/table.py; the apps are the real ones, the
tokens come from the gateway's real sign-in, and each call runs on the world of
tests/matrix/world.py (a school with its coordinator, students and a guardian, another
school, partner universities with a person and a machine client, consents, a service).
A route that is not in the table, or a table entry whose route is gone, fails here.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest

from services.cli import SERVICES
from shared.auth import ROLES, rule_of
from shared.pagination import Page
from shared.routes import iter_api_routes
from tests.matrix.table import DENIALS, PUBLIC, ROUTES, Denial, Ref, Route
from tests.matrix.world import Caller, World, matrix_world
from tests.tokens.support import with_payload

BY_KEY = {r.key: r for r in ROUTES}


def _apps_without_lifespan(monkeypatch) -> dict[str, Any]:
    # Building an app touches no database; only its lifespan (not run here) would.
    monkeypatch.setenv("SPROUT_DATABASE_URL", "postgresql://unused@127.0.0.1:1/unused")
    apps = {}
    for name, spec in SERVICES.items():
        module, factory = spec.app.split(":")
        apps[name] = getattr(importlib.import_module(module), factory)()
    return apps


def _declared(apps: Mapping[str, Any]) -> dict[str, Any]:
    """Every route of every app, as `service METHOD path` (proxied `/api/...` paths are not routes)."""
    return {
        f"{name} {method} {route.path}": route
        for name, app in apps.items()
        for route in iter_api_routes(app)
        for method in sorted(route.methods - {"HEAD"})
    }


def test_the_table_lists_every_route_of_every_service_and_nothing_else(monkeypatch):
    declared = _declared(_apps_without_lifespan(monkeypatch))
    missing = sorted(set(declared) - set(BY_KEY))
    gone = sorted(set(BY_KEY) - set(declared))
    assert not missing, f"routes with no row in tests/matrix/table.py (say who may call them): {missing}"
    assert not gone, f"rows of tests/matrix/table.py whose route no longer exists: {gone}"
    assert len(BY_KEY) == len(ROUTES), "a route is listed twice"

    for key, route in declared.items():
        row = BY_KEY[key]
        assert (rule_of(route) == "public") == row.public, f"{key}: the table and the route disagree on being public"
        if not row.public:
            assert row.allowed <= set(ROLES), f"{key}: unknown roles {sorted(row.allowed - set(ROLES))}"
        # A list must say, for every role that may call it, which rows that role sees.
        model = getattr(route, "response_model", None)
        if isinstance(model, type) and issubclass(model, Page):
            assert set(row.rows) == set(row.allowed), f"{key}: a list needs `rows` for each allowed role"
        else:
            assert not row.rows, f"{key}: `rows` is for list endpoints"
    for d in DENIALS:
        row = BY_KEY[f"{d.service} {d.method} {d.path}"]
        assert _caller_role(d.caller) in row.allowed, f"{d}: a denial is for a caller allowed on the route"


def _caller_role(label: str) -> str:
    return "partner" if label == "partner client" else label


# ---------------------------------------------------------------- running the calls


@pytest.fixture(scope="module")
async def world(database_url: str, engine) -> AsyncIterator[World]:
    async with matrix_world(database_url, engine) as w:
        yield w


@pytest.fixture(scope="module")
def everyone(world: World) -> list[Caller]:
    """The table's roles, and two callers without a valid token: none at all, and a tampered one."""
    admin = world.caller("admin").headers["Authorization"].removeprefix("Bearer ")
    forged = with_payload(admin, roles=["admin"], sub=str(uuid.uuid4()))
    return [
        *world.callers,
        Caller("no token", None, {}),
        Caller("tampered token", None, {"Authorization": f"Bearer {forged}"}),
    ]


def _resolve(value: Any, world: World) -> Any:
    if isinstance(value, Ref):
        return world.ids[value.name]
    if isinstance(value, Mapping):
        return {k: _resolve(v, world) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_resolve(v, world) for v in value]
    return value


def _path(path: str, params: Mapping[str, Any], world: World, caller: Caller) -> str:
    values = {}
    for name, spec in params.items():
        if isinstance(spec, Mapping):
            spec = spec.get(caller.label, spec.get(caller.role or "", spec["*"]))
        if spec == "self":
            # A machine client, or nobody: an id that is no one's account.
            values[name] = caller.user_id or str(uuid.uuid4())
        elif spec.startswith("="):
            values[name] = spec[1:]
        else:
            values[name] = world.ids[spec]
    return path.format(**values)


async def _call(world: World, route: Route, caller: Caller, path_params: Mapping[str, Any] | None = None, **query: Any) -> httpx.Response:
    def body(spec):
        if spec is None:
            return None
        return _resolve(spec(caller.role) if callable(spec) else spec, world)

    async with world.tx.case():
        return await world.clients[route.service].request(
            route.method,
            _path(route.path, route.path_params if path_params is None else path_params, world, caller),
            params={**_resolve(route.query, world), **query},
            json=body(route.json),
            data=body(route.data),
            files=route.files(world.ids) if route.files else None,
            headers={**caller.headers, **route.headers},
        )


def _outcome(route: Route, caller: Caller, r: httpx.Response) -> str | None:
    """Why the answer is wrong for this caller, or None."""
    code = r.json().get("code") if r.headers.get("content-type", "").startswith("application/problem+json") else None
    got = f"{r.status_code} {code or ''}".strip()
    if route.public:
        return None if r.status_code < 300 else f"public route answered {got}"
    if caller.role is None:
        wanted = "not_authenticated" if "Authorization" not in caller.headers else "invalid_token"
        return None if (r.status_code, code) == (401, wanted) else f"expected 401 {wanted}, got {got}"
    if caller.role in route.allowed:
        if caller.label in route.expect:
            wanted_status = route.expect[caller.label]
            return None if r.status_code == wanted_status else f"expected {wanted_status}, got {got}: {r.text[:200]}"
        return None if r.status_code < 300 else f"allowed, but got {got}: {r.text[:300]}"
    return None if (r.status_code, code) == (403, "forbidden") else f"expected 403 forbidden, got {got}"


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.key)
async def test_who_may_call_the_route(world, everyone, route):
    wrong = {}
    for caller in everyone:
        r = await _call(world, route, caller)
        if (why := _outcome(route, caller, r)) is not None:
            wrong[caller.label] = why
    allowed = "anyone" if route.allowed is PUBLIC else ", ".join(sorted(route.allowed))
    assert not wrong, f"{route.key} (allowed: {allowed}):\n" + "\n".join(f"  {k}: {v}" for k, v in wrong.items())


# ---------------------------------------------------------------- which rows each role sees


LISTS = [r for r in ROUTES if r.rows]


async def _all_rows(world: World, route: Route, caller: Caller) -> set[str]:
    seen: set[str] = set()
    cursor = None
    for _ in range(100):
        extra = {"cursor": cursor} if cursor else {}
        r = await _call(world, route, caller, **extra)
        assert r.status_code == 200, f"{route.key} as {caller.label}: {r.status_code} {r.text[:300]}"
        page = r.json()
        seen |= {str(item[route.row_key]) for item in page["items"]}
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError(f"{route.key}: more than 100 pages")


@pytest.mark.parametrize("route", LISTS, ids=lambda r: r.key)
async def test_each_role_sees_only_its_rows(world, route):
    # Every row of the world this list could show, so "only" can tell what is not the caller's.
    names = {v: k for k, v in world.ids.items()}
    wrong = {}
    for caller in world.callers:
        rows = route.rows.get(caller.role)
        if rows is None:
            continue
        seen = await _all_rows(world, route, caller)
        wanted = {world.ids[n] for n in rows.names}
        if not wanted <= seen:
            wrong[caller.label] = f"does not see {sorted(names[i] for i in wanted - seen)}"
        elif rows.exact and seen != wanted:
            wrong[caller.label] = f"also sees {sorted(names.get(i, i) for i in seen - wanted)}"
    assert not wrong, f"{route.key}:\n" + "\n".join(f"  {k}: {v}" for k, v in wrong.items())


@pytest.mark.parametrize("denial", DENIALS, ids=lambda d: f"{d.service} {d.caller}: {d.why}")
async def test_a_row_that_is_not_the_callers_is_refused(world, denial: Denial):
    route = BY_KEY[f"{denial.service} {denial.method} {denial.path}"]
    r = await _call(world, route, world.caller(denial.caller), path_params=denial.path_params)
    assert (r.status_code, r.json().get("code")) == (denial.status, denial.code), r.text

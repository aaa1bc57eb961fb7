"""Every route of every app declares who may call it, in its own auth dependency."""

import importlib

import pytest

from services.cli import SERVICES
from shared.auth import rule_of
from shared.routes import iter_api_routes
from shared.settings import BaseServiceSettings


def _app(name: str):
    module, factory = SERVICES[name].app.split(":")
    create = getattr(importlib.import_module(module), factory)
    # Building the app touches no database; the lifespan (not run here) does.
    return create()


@pytest.mark.parametrize("name", list(SERVICES))
def test_every_route_declares_an_access_rule(name, monkeypatch):
    monkeypatch.setenv("SPROUT_DATABASE_URL", "postgresql://unused@127.0.0.1:1/unused")
    app = _app(name)
    routes = list(iter_api_routes(app))
    assert routes, f"{name} has no routes"
    undeclared = [f"{sorted(r.methods)} {r.path}" for r in routes if rule_of(r) is None]
    assert undeclared == [], f"{name}: routes without an access rule: {undeclared}"


def test_a_route_without_a_rule_is_caught():
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/open")
    async def open_route() -> dict:
        return {}

    route = next(r for r in iter_api_routes(app) if r.path == "/open")
    assert rule_of(route) is None


def test_settings_base_is_shared():
    # Each service's settings class derives from the one base, so SPROUT_* means the same everywhere.
    for name in SERVICES:
        module = importlib.import_module(f"services.{name}.settings")
        classes = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, BaseServiceSettings)]
        assert any(c is not BaseServiceSettings and c.service_name == name for c in classes), name


@pytest.mark.parametrize("name", list(SERVICES))
def test_the_api_docs_say_who_may_call_each_operation(name, monkeypatch):
    monkeypatch.setenv("SPROUT_DATABASE_URL", "postgresql://unused@127.0.0.1:1/unused")
    app = _app(name)
    schema = app.openapi()
    rules = {(r.path, m.lower()): rule_of(r) for r in iter_api_routes(app) for m in r.methods}
    documented = [(k, rule) for k, rule in rules.items() if k[0] in schema["paths"]]
    # Only public pages (the docs themselves) may stay out of the schema.
    assert all(rule == "public" for k, rule in rules.items() if k[0] not in schema["paths"])
    for (path, method), rule in documented:
        op = schema["paths"][path][method]
        assert "**Who may call:**" in op["description"], (path, method)
        if rule != "public":
            assert op["responses"]["401"]["content"]["application/problem+json"], (path, method)
            assert ("403" in op["responses"]) == (rule != "authenticated"), (path, method)

"""Routes: the router every service uses (its routes are `StrictRoute`s), and walking an app's routes."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import fastapi
from fastapi import FastAPI, params, routing
from starlette.routing import compile_path

from shared.strict import StrictRoute, json_body_model


class APIRouter(fastapi.APIRouter):
    """FastAPI's router, making `StrictRoute`s (shared/strict.py): use it for every router of every service."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("route_class", StrictRoute)
        super().__init__(*args, **kwargs)


def iter_api_routes(app: FastAPI) -> Iterator[Any]:
    """Each API operation (path, methods, name, dependant), FastAPI's own docs routes excluded."""
    contexts = getattr(routing, "iter_route_contexts", None)
    found = contexts(app.routes) if contexts else iter(app.routes)
    for route in found:
        if getattr(route, "dependant", None) is not None and getattr(route, "methods", None):
            yield route


def lenient_routes(app: FastAPI) -> list[str]:
    """Operations that would read a request leniently, each a bug: a route that is not a
    StrictRoute (made by fastapi's own APIRouter), or a JSON body that is not one RequestModel."""
    found = []
    for route in iter_api_routes(app):
        where = f"{','.join(sorted(route.methods))} {route.path}"
        original = getattr(route, "original_route", route)
        if not isinstance(original, StrictRoute):
            found.append(f"{where} (not a StrictRoute)")
        json_body = [f for f in route.dependant.body_params if not isinstance(f.field_info, params.Form)]
        if json_body and json_body_model(original) is None:
            found.append(f"{where} (its JSON body is not one RequestModel)")
    return found


@lru_cache(maxsize=1024)
def _path_regex(path: str) -> Any:
    return compile_path(path)[0]


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route of `app` answers at `path` (what a 405's Allow header lists)."""
    contexts = getattr(routing, "iter_route_contexts", None)
    found: set[str] = set()
    for route in contexts(app.routes) if contexts else app.routes:
        methods = getattr(route, "methods", None)
        template = getattr(route, "path", None)
        if methods and template and _path_regex(template).match(path):
            found.update(methods)
    # Starlette answers HEAD for a plain Route's GET; the API's operations never declare it.
    return sorted(found - {"HEAD"})

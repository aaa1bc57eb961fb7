"""Routes: the router every service uses (its routes are `StrictRoute`s), a route's own body limit, and walking an app's routes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any, TypeVar

import fastapi
from fastapi import FastAPI, params, routing
from starlette.routing import compile_path

from shared.strict import StrictRoute, json_body_model

F = TypeVar("F", bound=Callable[..., Any])


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


# ---------------------------------------------------------------- a route's own body limit

# Room for a multipart form's boundaries and part headers around the file it carries.
UPLOAD_ENVELOPE = 64 * 1024

BodyLimit = int | str | Callable[[Any], int]


def body_limit(limit: BodyLimit) -> Callable[[F], F]:
    """Let this route take bodies up to `limit` bytes instead of SPROUT_REQUEST_MAX_BYTES.

    `limit` is a number, the name of a setting, or a function of the app's settings. The
    shared middleware enforces it before the body is read (by Content-Length, then counting
    what arrives), for this route only; every other route keeps the service's limit. Put it
    under the route's decorator:

        @router.post("/campaigns/{campaign_id}/scores", ...)
        @body_limit(lambda settings: settings.scores_max_bytes + UPLOAD_ENVELOPE)
        async def upload_scores(...): ...

    The gateway caps what it proxies to a service at its own SPROUT_REQUEST_MAX_BYTES, so a
    domain service's route above that is reached through the gateway only once the gateway's
    limit is raised to match.
    """

    def declare(endpoint: F) -> F:
        endpoint.__sprout_body_limit__ = limit  # type: ignore[attr-defined]
        return endpoint

    return declare


class RouteBodyLimits:
    """The body limits the routes of `app` declare (`body_limit`), read once its routers are in
    (create_service_app): a declaration that comes to no limit stops the app being made."""

    def __init__(self, app: FastAPI) -> None:
        self._found = _declared_limits(app)

    def limit(self, method: str, path: str) -> int | None:
        """The declared limit of the route answering `method path`, or None (the service's own)."""
        for regex, limit in self._found.get(method, ()):
            if regex.match(path):
                return limit
        return None


def _declared_limits(app: FastAPI) -> dict[str, list[tuple[re.Pattern[str], int]]]:
    settings = app.state.settings
    found: dict[str, list[tuple[re.Pattern[str], int]]] = {}
    for route in iter_api_routes(app):
        endpoint = getattr(getattr(route, "original_route", route), "endpoint", None)
        declared = getattr(endpoint, "__sprout_body_limit__", None)
        if declared is None:
            continue
        if isinstance(declared, str):
            value = getattr(settings, declared)
        elif callable(declared):
            value = declared(settings)
        else:
            value = declared
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{route.path}: body_limit must come to a positive number of bytes, not {value!r}")
        for method in route.methods:
            found.setdefault(method, []).append((_path_regex(route.path), value))
    return found

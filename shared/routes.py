"""Walking an app's routes as FastAPI sees them after every `include_router` prefix is applied."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi import routing


def iter_api_routes(app: FastAPI) -> Iterator[Any]:
    """Each API operation (path, methods, name, dependant), FastAPI's own docs routes excluded."""
    contexts = getattr(routing, "iter_route_contexts", None)
    found = contexts(app.routes) if contexts else iter(app.routes)
    for route in found:
        if getattr(route, "dependant", None) is not None and getattr(route, "methods", None):
            yield route

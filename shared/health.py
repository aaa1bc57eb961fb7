"""/healthz, /readyz and /metrics: the same probes in every service.

`/metrics` is for the scraper, never for the public: the gateway does not proxy it, no
OpenAPI document offers it, and a service whose API port is public (the gateway) serves it
only on its own port, `SPROUT_METRICS_PORT`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest, start_http_server
from pydantic import BaseModel
from sqlalchemy import text
from starlette.responses import Response

from shared.auth import Public
from shared.migrations import behind
from shared.problems import ProblemError, problem_responses
from shared.routes import APIRouter

log = logging.getLogger(__name__)

router = APIRouter(tags=["ops"])
metrics_router = APIRouter(tags=["ops"])


class Health(BaseModel):
    status: str
    service: str


class Readiness(BaseModel):
    status: str
    service: str
    checks: dict[str, str]


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers", dependencies=[Public])
async def healthz(request: Request) -> Health:
    """Touches nothing else; fails only when the process is wedged."""
    return Health(status="ok", service=request.app.state.service_name)


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness: database reachable and migrations at head",
    responses=problem_responses("not_ready"),
    dependencies=[Public],
)
async def readyz(request: Request) -> Readiness:
    app = request.app
    try:
        async with asyncio.timeout(2.0):
            async with app.state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                lagging = await behind(conn, app.state.migration_trees, app.state.migration_heads)
    except TimeoutError:
        raise ProblemError("not_ready", reason="database did not answer within 2 s") from None
    except ProblemError:
        raise
    except Exception as exc:
        log.warning("readiness check failed", extra={"error": repr(exc)})
        raise ProblemError("not_ready", reason="database unreachable") from None
    if lagging:
        raise ProblemError("not_ready", reason="migrations not at head for schema(s) " + ", ".join(lagging))
    checks = {"database": "ok", "migrations": "ok"}
    for name, check in getattr(app.state, "readiness_checks", {}).items():
        checks[name] = await check(app)
    return Readiness(status="ok", service=app.state.service_name, checks=checks)


@metrics_router.get(
    "/metrics", summary="Prometheus metrics", response_class=Response, dependencies=[Public], include_in_schema=False
)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@asynccontextmanager
async def metrics_listener(app: FastAPI) -> AsyncIterator[None]:
    """Serve /metrics on `SPROUT_METRICS_PORT` (all paths answer metrics there) while the app runs."""
    settings = app.state.settings
    if settings.metrics_port is None:
        yield
        return
    httpd, _ = await asyncio.to_thread(start_http_server, settings.metrics_port, settings.host)
    app.state.metrics_port = httpd.server_address[1]
    log.info("metrics listening", extra={"port": app.state.metrics_port})
    try:
        yield
    finally:
        await asyncio.to_thread(httpd.shutdown)
        httpd.server_close()

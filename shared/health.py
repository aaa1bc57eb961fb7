"""/healthz, /readyz and /metrics: the same three probes in every service."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text
from starlette.responses import Response

from shared.auth import Public
from shared.migrations import behind
from shared.problems import ProblemError, problem_responses

log = logging.getLogger(__name__)

router = APIRouter(tags=["ops"])


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


@router.get("/metrics", summary="Prometheus metrics", response_class=Response, dependencies=[Public])
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

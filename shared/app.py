"""`create_service_app`: the one way a Sprout service is assembled.

Every service gets the same lifespan (engine, event consumers), middleware, problem
handlers, probes and operation ids; a service adds only its routers and consumers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from shared import health, whoami
from shared.consent import ConsentClient
from shared.db import create_engine, resolve_database_url, sessionmaker
from shared.idempotency import install_idempotency, purge_periodically
from shared.logging import setup_logging
from shared.middleware import RequestContextMiddleware
from shared.migrations import MigrationTree
from shared.openapi import Extra, document_contract
from shared.problems import install_problem_handlers
from shared.revocations import RevocationList, watch_revocations
from shared.routes import RouteBodyLimits, lenient_routes
from shared.settings import BaseServiceSettings
from shared.strict import StrictRoute
from shared.tokens import JwksKeySource, TokenVerifier
from shared.tracing import instrument_app, instrument_engine, setup_tracing

log = logging.getLogger(__name__)

EVENTS_TREE = MigrationTree("events", Path(__file__).parent / "events" / "migrations")

Lifespan = Callable[[FastAPI], "AsyncIterator[None]"]


def service_tree(schema: str, service_dir: Path) -> MigrationTree:
    return MigrationTree(schema, Path(service_dir) / "migrations")


def operation_id(service: str) -> Callable[[APIRoute], str]:
    """Stable operationIds, unique across the combined API: `<service>_<function name>`."""

    def generate(route: APIRoute) -> str:
        return f"{service}_{route.name}"

    return generate


def create_service_app(
    settings: BaseServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    migration_tree: MigrationTree,
    consumers: Sequence[Any] = (),
    lifespans: Sequence[Callable[[FastAPI], Any]] = (),
    version: str = "0.1.0",
    access_log: bool = True,
    public_port: bool = False,
    contract_extra: Extra | None = None,
) -> FastAPI:
    """Assemble a service. `lifespans` are extra async context managers entered after the database.

    `public_port`: the API port faces the internet (the gateway), so /metrics is served only on
    `SPROUT_METRICS_PORT`; other services serve it on their API port unless that is set.
    `contract_extra` names problems the app answers for operations beyond what shared/openapi.py
    finds in the routes themselves (the gateway's rate limit).
    """
    name = settings.service_name
    setup_logging(name, settings.log_level, settings.log_json)
    setup_tracing(name, settings.otlp_endpoint)
    trees = [EVENTS_TREE, migration_tree]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            url = await asyncio.to_thread(resolve_database_url, settings)
            engine = create_engine(url, settings)
            instrument_engine(engine)
            stack.push_async_callback(engine.dispose)
            app.state.database_url = url
            app.state.engine = engine
            app.state.sessionmaker = sessionmaker(engine)
            app.state.migration_heads = {t.schema: await asyncio.to_thread(t.heads) for t in trees}
            # Ended sign-ins, kept current from events.revocation (shared/revocations.py).
            app.state.revocations = RevocationList()
            app.state.revocation_watcher = await stack.enter_async_context(
                watch_revocations(
                    app.state.revocations, sessions=app.state.sessionmaker, url=url,
                    poll_seconds=settings.revocations_poll_seconds, readiness=app.state.readiness_checks,
                )
            )
            # Services verify tokens against the gateway's published keys; the gateway's own
            # lifespan replaces this with a verifier over its local key store.
            app.state.token_verifier = TokenVerifier(
                JwksKeySource(
                    settings.effective_jwks_url,
                    ttl=settings.jwks_cache_seconds,
                    min_refresh=settings.jwks_min_refresh_seconds,
                ),
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                revocations=app.state.revocations,
            )
            # Asks the gateway whether a student's consent holds (shared/consent.py).
            app.state.consents = ConsentClient.from_settings(settings)
            stack.push_async_callback(app.state.consents.aclose)
            # Idempotency keys and the answers they keep expire (SPROUT_IDEMPOTENCY_RETENTION_HOURS).
            await stack.enter_async_context(purge_periodically(app))
            if consumers and settings.events_enabled:
                from shared.events.worker import run_consumers

                await stack.enter_async_context(run_consumers(engine, url, consumers, settings))
            await stack.enter_async_context(health.metrics_listener(app))
            for extra in lifespans:
                await stack.enter_async_context(extra(app))
            log.info("service started", extra={"port": settings.listen_port})
            yield
            log.info("service stopping")

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id(name),
    )
    app.router.route_class = StrictRoute
    app.state.service_name = name
    app.state.settings = settings
    app.state.migration_trees = trees
    app.state.readiness_checks = {}
    install_problem_handlers(app)
    install_idempotency(app, migration_tree.schema)
    app.include_router(health.router)
    if not public_port and settings.metrics_port is None:
        app.include_router(health.metrics_router)
    app.include_router(whoami.router)
    for router in routers:
        app.include_router(router)
    app.add_middleware(
        RequestContextMiddleware, service=name, max_body_bytes=settings.request_max_bytes, access_log=access_log,
        route_limits=RouteBodyLimits(app),
    )
    lenient = lenient_routes(app)
    if lenient:
        raise TypeError(f"{name}: routes that read requests leniently (use shared.routes.APIRouter and RequestModel): {'; '.join(lenient)}")
    document_contract(app, extra=contract_extra)
    instrument_app(app)
    return app

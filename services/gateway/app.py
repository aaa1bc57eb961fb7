"""The gateway's FastAPI application."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.routing import APIRoute

from services.gateway import docs
from services.gateway.consent.router import router as consent_router
from services.gateway.directory.router import router as directory_router
from services.gateway.events import consumers
from services.gateway.identity.router import router as identity_router
from services.gateway.limits.edge import EXEMPT_PATHS, install_limits
from services.gateway.openapi import CombinedOpenAPI, openapi_router
from services.gateway.proxy import GatewayProxy, install_proxy
from services.gateway.settings import GatewaySettings
from services.gateway.tokens.lifespan import tokens_lifespan
from services.gateway.tokens.router import router as tokens_router
from shared import crypto
from shared.app import create_service_app, service_tree


def edge_problems(settings: GatewaySettings):
    """What the gateway's edge answers for one of its own operations: the rate limit's 429."""

    def problems(route, method: str) -> list[str]:
        if not settings.rate_limit_enabled or route.path in EXEMPT_PATHS:
            return []
        return ["rate_limited"]

    return problems


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    proxy = GatewayProxy(settings)
    combined = CombinedOpenAPI(settings)
    app = create_service_app(
        settings,
        title="Sprout API",
        description=(
            "The front door of the Sprout API: one origin for every service. Each service's "
            "operations are under `/api/<service>/`; errors are RFC 9457 problem+json with a "
            "stable `code`; every answer carries `X-Request-ID`."
        ),
        routers=[openapi_router(combined), docs.router, tokens_router, identity_router, consent_router, directory_router],
        migration_tree=service_tree("gateway", Path(__file__).parent),
        consumers=consumers,
        lifespans=[crypto.lifespan, proxy.lifespan, tokens_lifespan],
        public_port=True,
        contract_extra=edge_problems(settings),
    )
    # FastAPI's own /openapi.json describes the gateway alone; ours, added above, is the combined one.
    app.router.routes[:] = [
        r for r in app.router.routes if isinstance(r, APIRoute) or getattr(r, "path", None) != app.openapi_url
    ]
    install_proxy(app, proxy)
    # Last: CORS and the rate limit wrap everything above, proxied requests included.
    install_limits(app, settings)
    app.state.proxy = proxy
    app.state.combined_openapi = combined
    return app

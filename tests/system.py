"""The whole system for real: the four services, each on a loopback port, and the gateway in front.

Every service verifies tokens against the gateway's keys, fetched over HTTP as in
production; the gateway proxies `/api/<service>/` to them and serves their combined
OpenAPI document. `live_system` runs in the calling event loop (`serve()`); a synchronous
test, whose requests would block that loop, enters it with `tests.servers.in_own_loop`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from services.gateway.app import create_app as gateway_app
from services.gateway.proxy import PROXIED
from services.gateway.settings import GatewaySettings
from tests.platform.conftest import service_app
from tests.servers import bound_socket, serve


@dataclass
class System:
    url: str  # the gateway
    app: FastAPI  # the gateway's app
    services: dict[str, str]  # each service's own URL, by name
    doc: dict[str, Any]  # the combined OpenAPI document, as the gateway serves it


@asynccontextmanager
async def live_system(
    database_url: str, *, every_service: dict[str, Any] | None = None, **gateway_settings: Any
) -> AsyncIterator[System]:
    """The four services and the gateway on `database_url`.

    `every_service` are settings of all five (e.g. their database pools), `gateway_settings`
    the gateway's own.
    """
    every_service = every_service or {}
    gateway_sock, gateway_url = bound_socket()
    async with AsyncExitStack() as stack:
        services = {}
        for name in PROXIED:
            app = service_app(name, database_url, events_enabled=False, gateway_url=gateway_url, **every_service)
            services[name] = await stack.enter_async_context(serve(app))
        settings = GatewaySettings(
            database_url=database_url, env="test", events_enabled=False,
            **{f"{name}_url": url for name, url in services.items()}, **every_service, **gateway_settings,
        )
        app = gateway_app(settings)
        url = await stack.enter_async_context(serve(app, gateway_sock))
        async with httpx.AsyncClient(timeout=20) as client:
            doc = (await client.get(f"{url}/openapi.json")).json()
        assert doc["info"]["x-services"]["missing"] == []
        yield System(url, app, services, doc)

"""A world for the directory: its own database (a resync replaces a read model with the gateway's
whole directory), a real gateway over HTTP, an admin, and a machine client for the services."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from services.cli import migration_trees
from services.gateway.app import create_app as gateway_app
from services.gateway.identity import admin as identity_admin
from services.gateway.settings import GatewaySettings
from services.gateway.tokens import admin as tokens_admin
from shared.db import create_engine
from shared.migrations import migrate
from tests.conftest import _admin
from tests.servers import bound_socket, serve
from tests.tokens.support import PASSWORD


@dataclass
class DirectoryWorld:
    database_url: str
    engine: AsyncEngine
    gateway_url: str
    http: httpx.AsyncClient  # the gateway, as admin
    client_id: str
    client_secret: str
    school_id: str

    def service_settings(self, settings_cls, **overrides: Any):
        return settings_cls(
            database_url=self.database_url, env="test", log_json=True, gateway_url=self.gateway_url,
            jwks_url=f"{self.gateway_url}/.well-known/jwks.json",
            service_client_id=self.client_id, service_client_secret=self.client_secret,
            events_poll_interval=0.5, **overrides,
        )

    async def service_token(self) -> str:
        r = await self.http.post(
            "/auth/token", data={"grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret},
            headers={"Authorization": ""},
        )
        assert r.status_code == 200, r.text
        return r.json()["access_token"]

    async def token(self, username: str, password: str = PASSWORD) -> str:
        r = await self.http.post(
            "/auth/token", data={"grant_type": "password", "username": username, "password": password},
            headers={"Authorization": ""},
        )
        assert r.status_code == 200, r.text
        return r.json()["access_token"]


@pytest.fixture
async def directory_world(server_url: str) -> AsyncIterator[DirectoryWorld]:
    name = f"sprout_directory_{secrets.token_hex(4)}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        await migrate(url, migration_trees())
        async with AsyncExitStack() as stack:
            engine = create_engine(url, pool_size=5, max_overflow=5)
            stack.push_async_callback(engine.dispose)
            settings = GatewaySettings(database_url=url, env="test", events_enabled=True, rate_limit_enabled=False)
            await identity_admin.create_user(url, settings, username="dir-admin", roles=["admin"], password=PASSWORD, display_name="Directory admin")
            client = await tokens_admin.create_client(url, client_id="dir-services", name="the domain services", role="service", scopes=[], partner=None)
            sock, gateway_url = bound_socket()
            await stack.enter_async_context(serve(gateway_app(settings), sock))
            http = await stack.enter_async_context(httpx.AsyncClient(base_url=gateway_url, timeout=30))
            world = DirectoryWorld(url, engine, gateway_url, http, client["client_id"], client["client_secret"], "")
            http.headers["Authorization"] = f"Bearer {await world.token('dir-admin')}"
            r = await http.post("/identity/schools", json={"name": "鹭江中学", "district": "思明区", "level": "middle"})
            assert r.status_code == 201, r.text
            world.school_id = r.json()["id"]
            yield world
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

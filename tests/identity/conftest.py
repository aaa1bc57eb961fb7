"""Fixtures of the identity and consent tests: the real gateway app on the test's rolled-back session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from tests.conftest import running_app


@dataclass
class Gateway:
    app: object
    client: httpx.AsyncClient
    settings: GatewaySettings


def gateway_settings(database_url: str, **overrides) -> GatewaySettings:
    return GatewaySettings(database_url=database_url, env="test", events_enabled=False, log_json=True, **overrides)


@pytest.fixture
async def gw(database_url: str, session) -> AsyncIterator[Gateway]:
    settings = gateway_settings(database_url)
    app = create_app(settings)
    async with running_app(app, session) as client:
        yield Gateway(app, client, settings)

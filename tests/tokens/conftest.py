"""Fixtures of the token tests: the real gateway app, in-process on the test's transaction or served over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.app import create_app
from tests.conftest import running_app
from tests.tokens.support import gateway_settings


@dataclass
class Gateway:
    app: FastAPI
    client: httpx.AsyncClient


@pytest.fixture
async def gateway(database_url: str, session: AsyncSession) -> AsyncIterator[Gateway]:
    """The real gateway app, its requests inside the test's transaction (rolled back afterwards)."""
    app = create_app(gateway_settings(database_url))
    async with running_app(app, session) as client:
        yield Gateway(app, client)

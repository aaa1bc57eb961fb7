"""A real gateway whose requests really commit, and the tidying of what such tests stored.

The fixtures of `tests/identity/conftest.py` run each request inside the test's rolled-back
transaction. The stories that matter most (an import, a consent's life) also run here, against
the gateway served by uvicorn with its own sessions, and what they stored is read back from
another connection.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.gateway.app import create_app
from services.gateway.consent.models import Consent
from services.gateway.identity.models import GuardianLink, Partner, PiiAccessLog, School, UserAccount
from services.gateway.tokens.models import Client, RefreshToken
from shared.db import create_engine
from tests.identity.conftest import gateway_settings
from tests.servers import serve


@dataclass
class Served:
    app: Any
    url: str
    http: httpx.AsyncClient


@asynccontextmanager
async def served_gateway(database_url: str, **overrides: Any) -> AsyncIterator[Served]:
    """The gateway app on a free port, committing its own transactions."""
    app = create_app(gateway_settings(database_url, **overrides))
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=60) as http:
        yield Served(app, url, http)


@asynccontextmanager
async def fresh_connection(database_url: str) -> AsyncIterator[Any]:
    """A connection of a new engine: it sees only what was committed."""
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            yield conn
    finally:
        await engine.dispose()


async def forget(
    engine: AsyncEngine,
    *,
    schools: Iterable[uuid.UUID] = (),
    users: Iterable[uuid.UUID] = (),
    partners: Iterable[uuid.UUID] = (),
    clients: Iterable[str] = (),
) -> None:
    """Delete the committed rows of these schools (and their students' guardians), people, partners and machine clients."""
    schools, partners, clients = list(schools), list(partners), list(clients)
    async with engine.begin() as conn:
        people = set(users)
        if schools:
            students = (await conn.execute(select(UserAccount.id).where(UserAccount.school_id.in_(schools)))).scalars().all()
            people.update(students)
            guardians = (
                await conn.execute(select(GuardianLink.guardian_id).where(GuardianLink.student_id.in_(students)))
            ).scalars().all()
            people.update(guardians)
        ids = list(people)
        await conn.execute(delete(Consent).where(or_(Consent.student_id.in_(ids), Consent.guardian_id.in_(ids))))
        await conn.execute(delete(PiiAccessLog).where(PiiAccessLog.student_id.in_(ids)))
        await conn.execute(delete(RefreshToken).where(RefreshToken.user_id.in_(ids)))
        await conn.execute(
            delete(GuardianLink).where(or_(GuardianLink.student_id.in_(ids), GuardianLink.guardian_id.in_(ids)))
        )
        await conn.execute(delete(UserAccount).where(UserAccount.id.in_(ids)))
        if schools:
            await conn.execute(delete(School).where(School.id.in_(schools)))
        if clients:
            await conn.execute(delete(Client).where(Client.client_id.in_(clients)))
        if partners:
            await conn.execute(delete(Partner).where(Partner.id.in_(partners)))

"""What the limit tests (and others that run apps on engines of their own) share: requests from a chosen peer address, committed people."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy import delete

from services.gateway.identity.models import PiiAccessLog, School, UserAccount
from shared.db import sessionmaker
from tests.identity.factories import make_school, make_student


async def get_from(app, peer: str, forwarded: str | None = None, path: str = "/.well-known/jwks.json", **headers: str) -> httpx.Response:
    """GET `path` of a running `app` as if the TCP connection came from `peer`, with that X-Forwarded-For."""
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        return await client.get(path, headers=headers)


async def statuses_from(app, peer: str, forwarded: list[str | None]) -> list[int]:
    return [(await get_from(app, peer, f)).status_code for f in forwarded]


@asynccontextmanager
async def committed_student(engine, **student) -> AsyncIterator[UserAccount]:
    """A school and a student of it committed for real (for apps on engines of their own), removed
    afterwards with what the gateway logged about them."""
    async with sessionmaker(engine)() as s, s.begin():
        school = await make_school(s)
        person = await make_student(s, school, **student)
    try:
        yield person
    finally:
        async with sessionmaker(engine)() as s, s.begin():
            await s.execute(delete(PiiAccessLog).where(PiiAccessLog.student_id == person.id))
            await s.execute(delete(UserAccount).where(UserAccount.id == person.id))
            await s.execute(delete(School).where(School.id == school.id))

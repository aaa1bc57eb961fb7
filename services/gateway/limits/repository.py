"""All SQL of the login throttle."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.limits.models import LoginThrottle


async def locked_until(session: AsyncSession, username: str) -> datetime | None:
    return await session.scalar(select(LoginThrottle.locked_until).where(LoginThrottle.username == username))


async def for_update(session: AsyncSession, username: str, now: datetime) -> LoginThrottle:
    """The account's row, locked for this transaction (made empty first if there is none)."""
    await session.execute(
        insert(LoginThrottle)
        .values(username=username, failures=0, first_failure_at=now, last_failure_at=now)
        .on_conflict_do_nothing(index_elements=[LoginThrottle.username])
    )
    stmt = select(LoginThrottle).where(LoginThrottle.username == username).with_for_update()
    row = (await session.scalars(stmt.execution_options(populate_existing=True))).one()
    return row


async def clear(session: AsyncSession, username: str) -> None:
    await session.execute(delete(LoginThrottle).where(LoginThrottle.username == username))


async def delete_forgotten(session: AsyncSession, before: datetime) -> int:
    """Rows whose last failure and lock both ended before `before`."""
    stmt = delete(LoginThrottle).where(
        func.greatest(LoginThrottle.last_failure_at, func.coalesce(LoginThrottle.locked_until, LoginThrottle.last_failure_at))
        < before
    )
    return (await session.execute(stmt)).rowcount or 0

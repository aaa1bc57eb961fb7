"""All SQL of the login throttle."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.limits.models import LoginThrottle


async def for_update(session: AsyncSession, username: str, now: datetime) -> LoginThrottle:
    """The account's row, locked for this transaction (made empty first if there is none).

    One statement, so there is no moment between making the row and locking it: a row that
    a concurrent sign-in deletes (its success clears the failures) while this one waits for
    its lock is made again here, where a separate SELECT ... FOR UPDATE would find nothing.
    The no-op update is what takes the row lock on conflict; PostgreSQL guarantees the
    statement ends in an insert or an update, however it races.
    """
    stmt = (
        insert(LoginThrottle)
        .values(username=username, failures=0, first_failure_at=now, last_failure_at=now)
        .on_conflict_do_update(index_elements=[LoginThrottle.username], set_={"username": username})
        .returning(LoginThrottle)
    )
    return (await session.scalars(stmt, execution_options={"populate_existing": True})).one()


async def clear(session: AsyncSession, username: str) -> None:
    await session.execute(delete(LoginThrottle).where(LoginThrottle.username == username))


async def delete_forgotten(session: AsyncSession, before: datetime) -> int:
    """Rows whose last failure and lock both ended before `before`."""
    stmt = delete(LoginThrottle).where(
        func.greatest(LoginThrottle.last_failure_at, func.coalesce(LoginThrottle.locked_until, LoginThrottle.last_failure_at))
        < before
    )
    return (await session.execute(stmt)).rowcount or 0

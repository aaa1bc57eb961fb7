"""Writes that may lose a race to a unique constraint, answered as a 409 problem instead of a 500.

A service checks first ("is this name taken?") so the common case gets a clear problem, and
writes through these helpers for the case no check can see: a concurrent request that
committed the same name in between. An insert runs in a savepoint, so the violation leaves
the rest of the request's transaction usable.

A table may have several unique constraints, each meaning something else to the caller;
`constraints` maps the name of each (as the migration gave it) to its problem code, and a
violation of a constraint it does not name is answered with the call's own `code`:

    COURSE_CONSTRAINTS = {"uq_course_code": "course_code_taken", "uq_course_title_term": "course_title_taken"}

    await insert_unique(session, course, "course_code_taken", constraints=COURSE_CONSTRAINTS, course_code=course.code)

`params` fill the problem's message, whichever code it is. Any other integrity error (a
foreign key, a check constraint) is no conflict and is raised as it is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.problems import ProblemError

UNIQUE_VIOLATION = "23505"

Constraints = Mapping[str, str]


def unique_violation(exc: IntegrityError) -> str | None:
    """The name of the unique constraint `exc` violated ("" when the driver does not say which),
    or None when `exc` is another kind of integrity error."""
    error = exc.orig
    if getattr(error, "sqlstate", None) != UNIQUE_VIOLATION:
        return None
    # SQLAlchemy's asyncpg adapter keeps the driver's exception, which names the constraint,
    # as its cause; an asyncpg error raised as it is (by COPY) names it itself.
    for candidate in (error, error.__cause__):
        name = getattr(candidate, "constraint_name", None)
        if name:
            return name
    return ""


def conflict(exc: IntegrityError, code: str, /, *, constraints: Constraints | None = None, **params: Any) -> ProblemError | None:
    """The problem a unique violation is, or None for any other integrity error."""
    name = unique_violation(exc)
    if name is None:
        return None
    return ProblemError((constraints or {}).get(name, code), **params)


@asynccontextmanager
async def unique_or_problem(
    session: AsyncSession, code: str, /, *, constraints: Constraints | None = None, **params: Any
) -> AsyncIterator[None]:
    """Run the block's writes in a savepoint; a unique violation becomes a problem (see the module)."""
    try:
        async with session.begin_nested():
            yield
    except IntegrityError as exc:
        problem = conflict(exc, code, constraints=constraints, **params)
        if problem is None:
            raise
        raise problem from None


async def insert_unique(
    session: AsyncSession, row: Any, code: str, /, *, constraints: Constraints | None = None, **params: Any
) -> None:
    """Insert `row`; a unique violation becomes problem `code` (or the one `constraints` names)."""
    async with unique_or_problem(session, code, constraints=constraints, **params):
        session.add(row)


async def flush_unique(session: AsyncSession, code: str, /, *, constraints: Constraints | None = None, **params: Any) -> None:
    """Flush the session's changes (an update); a unique violation becomes problem `code` (or the
    one `constraints` names).

    Unlike an insert, changes already made to loaded rows cannot go into a savepoint (starting
    one flushes them first), so after the problem the request's transaction is done: the
    problem ends the request and the transaction rolls back.
    """
    async with unique_or_problem(session, code, constraints=constraints, **params):
        await session.flush()

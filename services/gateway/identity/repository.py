"""All SQL of the identity domain."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

import asyncpg
from sqlalchemy import ARRAY, ColumnElement, Select, String, Table, any_, bindparam, exists, false, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.consent.models import Consent
from services.gateway.identity.models import GuardianLink, Partner, PiiAccessLog, School, UserAccount
from shared.ids import as_uuid
from shared.tokens import Principal


def any_of(column: ColumnElement, values: Iterable[str]) -> ColumnElement[bool]:
    """`column = ANY($1)`: one array parameter however many values (an IN list of thousands
    costs a bind parameter each to compile and send)."""
    return column == any_(bindparam(None, list(values), type_=ARRAY(String)))


async def copy_rows(session: AsyncSession, table: Table, columns: Sequence[str], rows: bytes) -> None:
    """Write `rows` (COPY text format, `columns` in order) into `table` in the session's
    transaction: thousands of rows in one round trip, with no per-row work in Python.

    A constraint violation rolls back to before the copy and is raised as IntegrityError,
    like one from any other statement.
    """
    if not rows:
        return
    async with session.begin_nested():  # also makes sure the transaction has begun
        connection = await (await session.connection()).get_raw_connection()
        try:
            # A memoryview: asyncpg would take bytes for a file name.
            await connection.driver_connection.copy_to_table(
                table.name, schema_name=table.schema, columns=list(columns), source=memoryview(rows), format="text"
            )
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(f"COPY {table.fullname}", None, exc) from None


# ---------------------------------------------------------------- schools


async def get_school(session: AsyncSession, school_id: uuid.UUID) -> School | None:
    return await session.get(School, school_id)


async def school_by_name(session: AsyncSession, name: str) -> School | None:
    return (await session.execute(select(School).where(func.lower(School.name) == name.strip().lower()))).scalar_one_or_none()


async def schools_by_names(session: AsyncSession, names: Iterable[str]) -> dict[str, School]:
    """Schools by lower-cased name."""
    wanted = {n.strip().lower() for n in names if n and n.strip()}
    if not wanted:
        return {}
    rows = (await session.execute(select(School).where(any_of(func.lower(School.name), wanted)))).scalars()
    return {s.name.lower(): s for s in rows}


def schools_query(*, level: str | None, district: str | None, include_disabled: bool) -> Select:
    stmt = select(School)
    if level:
        stmt = stmt.where(School.level == level)
    if district:
        stmt = stmt.where(School.district == district)
    if not include_disabled:
        stmt = stmt.where(School.disabled.is_(False))
    return stmt


# ---------------------------------------------------------------- users


async def get_user(session: AsyncSession, user_id: uuid.UUID, *, for_update: bool = False) -> UserAccount | None:
    stmt = select(UserAccount).where(UserAccount.id == user_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def user_by_username(session: AsyncSession, username: str) -> UserAccount | None:
    stmt = select(UserAccount).where(func.lower(UserAccount.username) == username.lower())
    return (await session.execute(stmt)).scalar_one_or_none()


async def usernames_taken(session: AsyncSession, usernames: Iterable[str]) -> set[str]:
    """The lower-cased usernames among `usernames` that exist already."""
    wanted = {u.lower() for u in usernames}
    if not wanted:
        return set()
    rows = await session.execute(select(func.lower(UserAccount.username)).where(any_of(func.lower(UserAccount.username), wanted)))
    return set(rows.scalars())


async def id_indexes_taken(session: AsyncSession, indexes: Iterable[str]) -> set[str]:
    wanted = set(indexes)
    if not wanted:
        return set()
    rows = await session.execute(select(UserAccount.id_number_index).where(any_of(UserAccount.id_number_index, wanted)))
    return set(rows.scalars())


async def users_by_phone_index(session: AsyncSession, indexes: Iterable[str]) -> dict[str, list[UserAccount]]:
    wanted = set(indexes)
    if not wanted:
        return {}
    rows = (await session.execute(select(UserAccount).where(any_of(UserAccount.phone_index, wanted)))).scalars()
    found: dict[str, list[UserAccount]] = {}
    for user in rows:
        found.setdefault(user.phone_index, []).append(user)  # type: ignore[arg-type]
    return found


def users_query(*, role: str | None, school_id: uuid.UUID | None, disabled: bool | None, username: str | None) -> Select:
    stmt = select(UserAccount)
    if role:
        stmt = stmt.where(UserAccount.roles.contains([role]))
    if school_id:
        stmt = stmt.where(UserAccount.school_id == school_id)
    if disabled is not None:
        stmt = stmt.where(UserAccount.disabled.is_(disabled))
    if username:
        stmt = stmt.where(func.lower(UserAccount.username).startswith(username.lower(), autoescape=True))
    return stmt


# ---------------------------------------------------------------- who sees which student


def visible_students(principal: Principal) -> ColumnElement[bool]:
    """The students `principal` may see, as a WHERE clause on UserAccount.

    admin, staff: every student; coordinator: their school's; guardian: their linked children;
    student: themself. Roles add up (a coordinator who is also a guardian sees both sets).
    """
    if principal.kind != "user":
        return false()
    if principal.has_role("admin", "staff"):
        return true()
    clauses: list[ColumnElement[bool]] = []
    me = as_uuid(principal.id)
    if principal.has_role("coordinator") and principal.school_id:
        school = as_uuid(principal.school_id)
        if school is not None:
            clauses.append(UserAccount.school_id == school)
    if principal.has_role("guardian") and me is not None:
        clauses.append(
            exists().where(GuardianLink.student_id == UserAccount.id, GuardianLink.guardian_id == me)
        )
    if principal.has_role("student") and me is not None:
        clauses.append(UserAccount.id == me)
    if not clauses:
        return false()
    return or_(*clauses)


def students_query(principal: Principal, *, school_id: uuid.UUID | None, grade: int | None, include_disabled: bool) -> Select:
    stmt = select(UserAccount).where(UserAccount.roles.contains(["student"]), visible_students(principal))
    if school_id:
        stmt = stmt.where(UserAccount.school_id == school_id)
    if grade:
        stmt = stmt.where(UserAccount.grade == grade)
    if not include_disabled:
        stmt = stmt.where(UserAccount.disabled.is_(False))
    return stmt


async def visible_student(session: AsyncSession, principal: Principal, student_id: uuid.UUID) -> UserAccount | None:
    stmt = select(UserAccount).where(
        UserAccount.id == student_id, UserAccount.roles.contains(["student"]), visible_students(principal)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def is_guardian_of(session: AsyncSession, guardian_id: uuid.UUID | None, student_id: uuid.UUID) -> bool:
    if guardian_id is None:
        return False
    stmt = select(exists().where(GuardianLink.guardian_id == guardian_id, GuardianLink.student_id == student_id))
    return bool((await session.execute(stmt)).scalar())


# ---------------------------------------------------------------- guardian links


async def guardians_of(session: AsyncSession, student_id: uuid.UUID) -> Sequence[tuple[GuardianLink, UserAccount]]:
    stmt = (
        select(GuardianLink, UserAccount)
        .join(UserAccount, UserAccount.id == GuardianLink.guardian_id)
        .where(GuardianLink.student_id == student_id)
        .order_by(GuardianLink.created_at, GuardianLink.guardian_id)
    )
    return [(link, user) for link, user in (await session.execute(stmt)).all()]


async def get_link(session: AsyncSession, guardian_id: uuid.UUID, student_id: uuid.UUID) -> GuardianLink | None:
    return await session.get(GuardianLink, (guardian_id, student_id))


# ---------------------------------------------------------------- partners


async def get_partner(session: AsyncSession, partner_id: uuid.UUID) -> Partner | None:
    return await session.get(Partner, partner_id)


async def partner_by_name(session: AsyncSession, name: str) -> Partner | None:
    return (await session.execute(select(Partner).where(Partner.name == name))).scalar_one_or_none()


# ---------------------------------------------------------------- access log


def access_log_query(
    *, student_id: uuid.UUID | None, reader_id: str | None, since: datetime | None, until: datetime | None
) -> Select:
    """(PiiAccessLog, the Consent a share was made under or None)."""
    stmt = select(PiiAccessLog, Consent).outerjoin(Consent, Consent.id == PiiAccessLog.consent_id)
    if student_id:
        stmt = stmt.where(PiiAccessLog.student_id == student_id)
    if reader_id:
        stmt = stmt.where(PiiAccessLog.reader_id == reader_id)
    if since:
        stmt = stmt.where(PiiAccessLog.at >= since)
    if until:
        stmt = stmt.where(PiiAccessLog.at < until)
    return stmt

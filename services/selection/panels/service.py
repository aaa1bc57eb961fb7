"""Experts' rules: only a person the directory holds with the `expert` role is registered; an
expert declares their own conflicts, staff anyone's; each declaration is in the record."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.selection.db import chain, conflicts, directory
from services.selection.panels.models import Expert
from services.selection.panels.schemas import ConflictIn, ExpertIn
from shared import clock
from shared.conflicts import Conflict, ConflictSource
from shared.ids import as_uuid
from shared.problems import ProblemError
from shared.tokens import Principal


async def register(session: AsyncSession, principal: Principal, person_id: uuid.UUID, data: ExpertIn) -> Expert:
    person = await directory.person(session, person_id)
    if person is None or "expert" not in person.roles or person.disabled:
        raise ProblemError("selection_not_an_expert", person_id=person_id)
    if len(set(data.disciplines)) != len(data.disciplines):
        raise ProblemError("selection_discipline_repeated", discipline=", ".join(d.value for d in data.disciplines))
    values = dict(
        person_id=person_id, type=data.type, disciplines=[d.value for d in data.disciplines], affiliation=data.affiliation,
        school_id=person.school_id, partner_id=person.partner_id, max_load=data.max_load, active=data.active,
        registered_by=principal.id, updated_at=clock.now(),
    )
    stmt = insert(Expert).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Expert.person_id], set_={k: stmt.excluded[k] for k in values if k != "person_id"}
    ).returning(Expert)
    expert = (await session.execute(stmt.execution_options(populate_existing=True))).scalar_one()
    await chain.append(session, kind="expert.registered", table=Expert.__table__, row_id=person_id, actor=principal.id)
    return expert


async def get(session: AsyncSession, person_id: uuid.UUID) -> Expert:
    expert = await session.get(Expert, person_id)
    if expert is None:
        raise ProblemError("selection_expert_not_found", expert_id=person_id)
    return expert


def _own(principal: Principal, expert_id: uuid.UUID) -> bool:
    return principal.has_role("expert") and as_uuid(principal.id) == expert_id


def may_read(principal: Principal, expert_id: uuid.UUID) -> bool:
    """Staff and admin read every expert's entry; an expert their own."""
    return principal.has_role("admin", "staff") or _own(principal, expert_id)


async def declare(session: AsyncSession, principal: Principal, expert_id: uuid.UUID, data: ConflictIn) -> Conflict:
    if not (principal.has_role("staff") or _own(principal, expert_id)):
        raise ProblemError("selection_expert_not_found", expert_id=expert_id)
    await get(session, expert_id)
    if await directory.person(session, data.student_id) is None:
        raise ProblemError("student_not_found", student_id=data.student_id)
    source = ConflictSource.staff if principal.has_role("staff") and not _own(principal, expert_id) else ConflictSource.expert
    found = await conflicts.declare(
        session, assessor_id=expert_id, student_id=data.student_id, kind=data.kind, source=source, reason=data.reason, by=principal.id,
    )
    await chain.append(
        session, kind="conflict.declared", table=Expert.__table__, row_id=expert_id, actor=principal.id,
        payload={"student_id": data.student_id, "kind": data.kind.value, "source": source.value, "reason": data.reason},
    )
    return found


async def declared(session: AsyncSession, expert_id: uuid.UUID) -> list[Conflict]:
    t = conflicts.table
    stmt = select(t).where(t.c.assessor_id == expert_id, t.c.withdrawn_at.is_(None)).order_by(t.c.declared_at, t.c.conflict_id)
    return [
        Conflict(r.assessor_id, r.student_id, r.kind, r.source, r.reason) for r in (await session.execute(stmt)).all()
    ]

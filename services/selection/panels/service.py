"""Experts' rules: only a person the directory holds with the `expert` role is registered; an
expert declares their own conflicts, staff anyone's; each declaration is in the record. The
interview panels: every candidate still in the running gets the campaign's `panel_size`
experts by one min-cost flow (shared/assignment.py), never a conflicted pair (declared, or
found from the directory: the expert's school is the student's, the expert is their guardian)."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.selection.campaigns import service as campaigns
from services.selection.db import chain, conflicts, directory
from services.selection.models import Campaign, Candidate, Stage
from services.selection.nominations import service as nominations
from services.selection.panels.models import Expert, PanelMember
from services.selection.panels.schemas import ConflictIn, ExpertIn
from shared import clock
from shared.assignment import Assessor, Assignment, AssignmentInfeasible, Subject, assign
from shared.chain import Change
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


async def _instance(session: AsyncSession, campaign: Campaign) -> tuple[list[Candidate], list[Expert], set[tuple[uuid.UUID, uuid.UUID]]]:
    """The campaign's candidates still in the running, the active experts, and every conflicted (candidate, expert) pair."""
    candidates = list((await session.execute(nominations.active(campaign.id).order_by(Candidate.id))).scalars())
    experts = list((await session.execute(select(Expert).where(Expert.active.is_(True)).order_by(Expert.person_id))).scalars())
    found = await conflicts.between(
        session, [e.person_id for e in experts], [c.student_id for c in candidates],
        affiliations={e.person_id: e.school_id for e in experts},
    )
    conflicted = set(found)  # (expert, student)
    pairs = {(c.id, e.person_id) for c in candidates for e in experts if (e.person_id, c.student_id) in conflicted}
    return candidates, experts, pairs


async def propose(session: AsyncSession, campaign: Campaign) -> tuple[list[Candidate], Assignment]:
    """The assignment the min-cost flow gives (shared/assignment.py); raises the problem naming the
    constraint that cannot be met."""
    candidates, experts, pairs = await _instance(session, campaign)
    subjects = [Subject(c.id, c.discipline.value) for c in candidates]
    pool = [Assessor(e.person_id, e.type.value, frozenset(e.disciplines), e.max_load) for e in experts]
    try:
        # The solve is CPU work (0.4 s at 5,000 candidates): off the event loop.
        return candidates, await asyncio.to_thread(assign, subjects, pool, campaign.panel_size, pairs)
    except AssignmentInfeasible as exc:
        raise ProblemError("selection_assignment_infeasible", constraint=exc.constraint, reason=exc.message) from None


async def save(session: AsyncSession, principal: Principal, campaign_id: uuid.UUID) -> tuple[list[Candidate], Assignment]:
    """Assign again, in this transaction, and store it in place of any earlier assignment."""
    campaign = await campaigns.get(session, campaign_id, lock=True)
    campaigns.require_open(campaign, Stage.interview)
    candidates, result = await propose(session, campaign)
    await session.execute(delete(PanelMember).where(PanelMember.campaign_id == campaign.id))
    now = clock.now()
    rows = [
        dict(id=uuid.uuid4(), campaign_id=campaign.id, candidate_id=c, expert_id=e, assigned_by=principal.id, assigned_at=now)
        for c, members in result.panels.items() for e in members
    ]
    for start in range(0, len(rows), 1000):
        await session.execute(insert(PanelMember).values(rows[start:start + 1000]))
    await chain.append_many(session, [Change("panel.assigned", principal.id, PanelMember.__table__, r["id"]) for r in rows])
    return candidates, result


async def panels(session: AsyncSession, campaign_id: uuid.UUID) -> dict[uuid.UUID, list[uuid.UUID]]:
    stmt = select(PanelMember.candidate_id, PanelMember.expert_id).where(PanelMember.campaign_id == campaign_id).order_by(
        PanelMember.candidate_id, PanelMember.expert_id
    )
    out: dict[uuid.UUID, list[uuid.UUID]] = {}
    for candidate_id, expert_id in await session.execute(stmt):
        out.setdefault(candidate_id, []).append(expert_id)
    return out

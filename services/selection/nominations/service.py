"""Nomination rules: who may nominate whom, eligibility with the refusing rule named, merging, withdrawal.

A coordinator recommends students of their own school (the read model says which school
each is in, so a coordinator moved elsewhere loses theirs at once), at most the campaign's
per-school limit, counted over the candidates the school recommended who have not
withdrawn. A student nominates themself; a child under 14 only while a guardian's
participation consent holds. Both kinds for one student and discipline make one candidate
with two nominations. The checks run in the order a person would want to hear them: the
window, the discipline, who the student is, their school, their grade, consent, the limit.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.selection.campaigns import service as campaigns
from services.selection.db import chain, directory
from services.selection.models import (
    Campaign, Candidate, CandidateStatus, Nomination, NominationSource, Stage, stage_index,
)
from services.selection.nominations.schemas import NominationIn
from shared import clock
from shared.chain import Change
from shared.db import xact_lock
from shared.ids import as_uuid
from shared.problems import ProblemError
from shared.tokens import Principal
from shared.unique import insert_unique


async def nominate(session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, data: NominationIn) -> tuple[Candidate, Nomination]:
    # A share lock on the campaign: a stage cannot move on while a nomination is being taken.
    campaign = (await session.execute(select(Campaign).where(Campaign.id == campaign_id).with_for_update(read=True))).scalar_one_or_none()
    if campaign is None:
        raise ProblemError("selection_campaign_not_found", campaign_id=campaign_id)
    campaigns.require_open(campaign, Stage.nomination, code="selection_nomination_closed", rule="window")
    offered = await campaigns.discipline(session, campaign.id, data.discipline)
    student_id = await _nominee(session, principal, data)
    person = await directory.person(session, student_id)
    if person is None or "student" not in person.roles or person.disabled:
        raise ProblemError("selection_not_a_student", student_id=student_id, rule="student")
    if person.school_id is None:
        raise ProblemError("selection_school_required", rule="school")
    if person.grade is None or not offered.min_grade <= person.grade <= offered.max_grade:
        raise ProblemError(
            "selection_grade_not_eligible", discipline=data.discipline.value, grade=person.grade or "unknown",
            min_grade=offered.min_grade, max_grade=offered.max_grade, rule="grade",
        )
    if data.source is NominationSource.self and not await directory.consent_holds(session, student_id, "participation"):
        raise ProblemError("consent_required", student_id=student_id, purpose="participation", partner="none")
    if data.source is NominationSource.school:
        await _within_limit(session, campaign, person.school_id, student_id, data)
    candidate = await _candidate(session, campaign, student_id, data, school_id=person.school_id, grade=person.grade)
    nomination = Nomination(
        id=uuid.uuid4(), campaign_id=campaign.id, candidate_id=candidate.id, source=data.source,
        school_id=person.school_id, statement=data.statement,
        achievements=[a.model_dump(exclude_none=True) for a in data.achievements],
        nominated_by=principal.id, created_at=clock.now(),
    )
    await insert_unique(
        session, nomination, "selection_nomination_duplicate", source=data.source.value, discipline=data.discipline.value
    )
    await session.flush()
    await chain.append_many(session, [
        Change("candidate.nominated", principal.id, Candidate.__table__, candidate.id),
        Change("nomination.made", principal.id, Nomination.__table__, nomination.id),
    ])
    return candidate, nomination


async def _nominee(session: AsyncSession, principal: Principal, data: NominationIn) -> uuid.UUID:
    """The student named, if the caller may nominate them: 404 for a student out of the caller's reach."""
    if data.source is NominationSource.self:
        own = as_uuid(principal.id)
        if not principal.has_role("student") or own is None or data.student_id not in (None, own):
            raise ProblemError("selection_source_not_allowed", source="self", who="the student themself")
        return own
    if data.student_id is None:
        raise ProblemError("selection_student_required")
    if not principal.has_role("coordinator"):
        raise ProblemError("selection_source_not_allowed", source="school", who="the coordinator of the student's school")
    coordinator = as_uuid(principal.id)
    school = await directory.school_of(session, coordinator) if coordinator else None
    if school is None or await directory.school_of(session, data.student_id) != school:
        raise ProblemError("student_not_found", student_id=data.student_id)
    return data.student_id


async def _within_limit(session: AsyncSession, campaign: Campaign, school_id: uuid.UUID, student_id: uuid.UUID, data: NominationIn) -> None:
    # One school's recommendations are counted and added one at a time.
    await xact_lock(session, "selection.school_limit", campaign.id, school_id)
    stmt = (
        select(func.count(func.distinct(Candidate.student_id)))
        .join(Nomination, Nomination.candidate_id == Candidate.id)
        .where(
            Nomination.campaign_id == campaign.id, Nomination.school_id == school_id,
            Nomination.source == NominationSource.school, Candidate.status == CandidateStatus.active,
            Candidate.student_id != student_id,
        )
    )
    if (await session.execute(stmt)).scalar_one() >= campaign.school_limit:
        raise ProblemError("selection_school_limit_reached", limit=campaign.school_limit, rule="limit")


async def _candidate(
    session: AsyncSession, campaign: Campaign, student_id: uuid.UUID, data: NominationIn, *, school_id: uuid.UUID, grade: int
) -> Candidate:
    """The candidate for (campaign, student, discipline), created by the first nomination; a
    second nomination (the other source, or a concurrent one) finds it."""
    values = dict(
        id=uuid.uuid4(), campaign_id=campaign.id, student_id=student_id, discipline=data.discipline,
        school_id=school_id, grade=grade, status=CandidateStatus.active, created_at=clock.now(),
    )
    await session.execute(insert(Candidate).values(**values).on_conflict_do_nothing(index_elements=["campaign_id", "student_id", "discipline"]))
    candidate = (await session.execute(
        select(Candidate).where(
            Candidate.campaign_id == campaign.id, Candidate.student_id == student_id, Candidate.discipline == data.discipline
        ).execution_options(populate_existing=True)
    )).scalar_one()
    if candidate.status is CandidateStatus.withdrawn:
        raise ProblemError("selection_candidate_withdrawn", withdrawn_at=candidate.withdrawn_at.isoformat())
    return candidate


async def get_visible(session: AsyncSession, principal: Principal, candidate_id: uuid.UUID) -> Candidate:
    """The candidate, if the caller may see the student (directory row scoping); else 404."""
    stmt = select(Candidate).where(Candidate.id == candidate_id, directory.visible(principal, Candidate.student_id))
    candidate = (await session.execute(stmt)).scalar_one_or_none()
    if candidate is None:
        raise ProblemError("selection_candidate_not_found", candidate_id=candidate_id)
    return candidate


async def withdraw(session: AsyncSession, principal: Principal, candidate_id: uuid.UUID, reason: str) -> Candidate:
    candidate = await get_visible(session, principal, candidate_id)
    me = as_uuid(principal.id)
    is_self = principal.has_role("student") and me == candidate.student_id
    is_guardian = principal.has_role("guardian") and me is not None and await directory.is_guardian_of(session, me, candidate.student_id)
    if not (is_self or is_guardian):
        raise ProblemError("selection_withdrawal_not_allowed")
    campaign = await campaigns.get(session, candidate.campaign_id, lock=True)
    candidate = (await session.execute(
        select(Candidate).where(Candidate.id == candidate_id).with_for_update().execution_options(populate_existing=True)
    )).scalar_one()
    if candidate.status is CandidateStatus.withdrawn:
        raise ProblemError("selection_candidate_withdrawn", withdrawn_at=candidate.withdrawn_at.isoformat())
    if stage_index(campaign.stage) >= stage_index(Stage.decision):
        raise ProblemError("selection_withdrawal_closed", current=campaign.stage.value)
    candidate.status = CandidateStatus.withdrawn
    candidate.withdrawn_at, candidate.withdrawn_by, candidate.withdrawal_reason = clock.now(), principal.id, reason
    await session.flush()
    await chain.append(session, kind="candidate.withdrawn", table=Candidate.__table__, row_id=candidate.id, actor=principal.id)
    return candidate


async def nominations_of(session: AsyncSession, candidate_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Nomination]]:
    out: dict[uuid.UUID, list[Nomination]] = {i: [] for i in candidate_ids}
    if candidate_ids:
        stmt = select(Nomination).where(Nomination.candidate_id.in_(candidate_ids)).order_by(Nomination.created_at, Nomination.id)
        for n in (await session.execute(stmt)).scalars():
            out[n.candidate_id].append(n)
    return out


def active(campaign_id: uuid.UUID):
    """The campaign's candidates still in the running (a select to filter or count)."""
    return select(Candidate).where(Candidate.campaign_id == campaign_id, Candidate.status == CandidateStatus.active)

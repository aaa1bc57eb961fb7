"""Results rules: standings from every stage, decisions against the ranking only with a reason,
publication with a window for objections, and the final results sent out as events.

The standings are computed when asked, from the stored results (tests, the panels'
corrected interview scores) and the weights, by `ranking.rank`; a decision stores what the
ranking proposed when it was made, so the audit shows a decision against it even if the
numbers change later (they cannot: each stage freezes its results when it closes).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.selection.campaigns import service as campaigns
from services.selection.db import chain, directory
from services.selection.models import (
    AssessmentScore, Campaign, CampaignDiscipline, Candidate, CandidateStatus, ScoreState, Stage,
)
from services.selection.nominations import service as nominations
from services.selection.interviews import interview_results
from services.selection.results import ranking
from services.selection.results.models import Decision, Objection, Outcome
from services.selection.results.schemas import DecisionIn, StageLine
from shared import clock
from shared.db import get_or_raise
from shared.events import publish_many
from shared.events.bus import Outgoing
from shared.events.contracts import lookup
from shared.events.contracts.selection import OUTCOME_EVENTS, SOURCE, CandidateResult, school_stage
from shared.problems import ProblemError
from shared.tokens import Principal
from shared.unique import insert_unique


@dataclass(frozen=True)
class Line:
    """One candidate's standing, with the numbers behind it."""

    candidate: Candidate
    ranked: ranking.Ranked
    stages: list[StageLine]


async def standings(session: AsyncSession, campaign: Campaign, discipline: CampaignDiscipline) -> list[Line]:
    """The discipline's active candidates, ranked."""
    candidates = list((await session.execute(
        nominations.active(campaign.id).where(Candidate.discipline == discipline.discipline)
    )).scalars())
    ids = [c.id for c in candidates]
    tests: dict[tuple[uuid.UUID, str], AssessmentScore] = {}
    if ids:
        for row in (await session.execute(select(AssessmentScore).where(AssessmentScore.candidate_id.in_(ids)))).scalars():
            tests[(row.candidate_id, row.stage.value)] = row
    interviews = await interview_results(session, campaign.id)
    weights = discipline.weights
    entries, details = [], {}
    for c in candidates:
        stages: dict[str, ranking.StageResult] = {}
        lines = []
        for stage in ("iq_test", "written_test"):
            row = tests.get((c.id, stage))
            low, high = (campaign.iq_min, campaign.iq_max) if stage == "iq_test" else (campaign.written_min, campaign.written_max)
            if row is None:
                result, raw = ranking.StageResult("missing"), None
            elif row.state is ScoreState.scored:
                result, raw = ranking.StageResult("scored", ranking.normalise(row.score, low, high)), row.score
            else:
                result, raw = ranking.StageResult(row.state.value), None
            stages[stage] = result
            lines.append((stage, result, raw, None, None))
        found = interviews.get(c.id)
        ruled = None
        if found is None or found.corrected is None:
            result, raw, correction = ranking.StageResult("missing"), None, None
        else:
            corrected = ranking.clamp(Decimal(str(found.corrected)))
            raw = Decimal(str(found.raw_mean)).quantize(ranking.FOUR)
            correction = (corrected - raw).quantize(ranking.FOUR)
            if found.adjudicated_score is not None:  # staff ruled on a disagreeing panel and set the score
                ruled = ranking.clamp(Decimal(str(found.adjudicated_score)))
            result = ranking.StageResult("scored", corrected if ruled is None else ruled)
        stages["interview"] = result
        lines.append(("interview", result, raw, correction, ruled))
        entries.append(ranking.Entry(c.id, stages))
        details[c.id] = (c, lines)
    ranked = ranking.rank(entries, weights, quota=discipline.quota, waitlist=discipline.quota)
    out = []
    for r in ranked:
        c, lines = details[r.candidate_id]
        out.append(Line(c, r, [
            StageLine(stage=s, state=res.state, raw=raw, value=res.value, correction=corr, adjudicated=ruled, weight=int(weights.get(s, 0)),
                      counted=s in r.counted)
            for s, res, raw, corr, ruled in lines
        ]))
    return out


async def decisions(session: AsyncSession, candidate_ids: list[uuid.UUID]) -> dict[uuid.UUID, Decision]:
    if not candidate_ids:
        return {}
    rows = (await session.execute(select(Decision).where(Decision.candidate_id.in_(candidate_ids)))).scalars()
    return {d.candidate_id: d for d in rows}


async def decide(session: AsyncSession, principal: Principal, candidate_id: uuid.UUID, data: DecisionIn) -> Decision:
    candidate = await get_or_raise(session, Candidate, candidate_id, ProblemError("selection_candidate_not_found", candidate_id=candidate_id))
    campaign = (await session.execute(select(Campaign).where(Campaign.id == candidate.campaign_id).with_for_update(read=True))).scalar_one()
    campaigns.require_open(campaign, Stage.decision)
    if candidate.status is CandidateStatus.withdrawn:
        raise ProblemError("selection_candidate_withdrawn", withdrawn_at=candidate.withdrawn_at.isoformat())
    discipline = await campaigns.discipline(session, campaign.id, candidate.discipline)
    line = next(x for x in await standings(session, campaign, discipline) if x.candidate.id == candidate_id)
    proposal = Outcome(line.ranked.proposal)
    against = data.outcome != proposal
    if against and data.reason is None:
        raise ProblemError("selection_decision_reason_required", proposal=proposal.value, outcome=data.outcome.value)
    values = dict(
        id=uuid.uuid4(), candidate_id=candidate_id, outcome=data.outcome, proposal=proposal, rank=line.ranked.rank,
        composite=line.ranked.composite, against_ranking=against, reason=data.reason, decided_by=principal.id, decided_at=clock.now(),
    )
    stmt = insert(Decision).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Decision.candidate_id], set_={k: stmt.excluded[k] for k in values if k not in ("id", "candidate_id")}
    ).returning(Decision)
    decision = (await session.execute(stmt.execution_options(populate_existing=True))).scalar_one()
    await chain.append(
        session, kind="decision.against_ranking" if against else "decision.recorded", table=Decision.__table__,
        row_id=decision.id, actor=principal.id,
    )
    return decision


@campaigns.stage_check(Stage.decision, may_close_early=False)
async def _undecided(session: AsyncSession, campaign: Campaign) -> dict[str, int]:
    stmt = nominations.active(campaign.id).where(~Candidate.id.in_(select(Decision.candidate_id)))
    return {"undecided": await campaigns.count(session, stmt)}


@campaigns.on_enter(Stage.publication)
async def _publish(session: AsyncSession, campaign: Campaign, principal: Principal) -> None:
    """The admitted list is public from now; objections are taken until the window closes (a timer)."""
    now = clock.now()
    campaign.published_at = now
    campaign.objections_close_at = now + timedelta(days=campaign.objection_days)
    await campaigns.schedule_deadline(session, campaign, Stage.publication, campaign.objections_close_at)
    admitted = await campaigns.count(session, _admitted(campaign.id))
    await chain.append(
        session, kind="results.published", table=Campaign.__table__, row_id=campaign.id, actor=principal.id,
        payload={"admitted": admitted},
    )


def _admitted(campaign_id: uuid.UUID):
    return nominations.active(campaign_id).join(Decision, Decision.candidate_id == Candidate.id).where(Decision.outcome == Outcome.admitted)


async def published(session: AsyncSession, campaign_id: uuid.UUID) -> list[tuple[Candidate, str | None, str | None]]:
    """The published admissions: each candidate, their name and their school's name (from the read model)."""
    campaign = await campaigns.get(session, campaign_id)
    if campaign.published_at is None:
        raise ProblemError("selection_not_published")
    school = directory.tables.school
    stmt = (
        _admitted(campaign_id).add_columns(school.c.name)
        .outerjoin(school, school.c.school_id == Candidate.school_id)
        .order_by(Candidate.discipline, Decision.rank, Candidate.id)
    )
    rows = (await session.execute(stmt)).all()
    names = await directory.display_names(session, [r[0].student_id for r in rows])
    return [(c, names.get(c.student_id), school_name) for c, school_name in rows]


async def object_to(session: AsyncSession, principal: Principal, candidate_id: uuid.UUID, reason: str) -> Objection:
    candidate = await session.get(Candidate, candidate_id)
    decision = (await decisions(session, [candidate_id])).get(candidate_id) if candidate else None
    campaign = await campaigns.get(session, candidate.campaign_id) if candidate else None
    if candidate is None or campaign.published_at is None or decision is None or decision.outcome is not Outcome.admitted:
        raise ProblemError("selection_candidate_not_found", candidate_id=candidate_id)
    campaign = (await session.execute(select(Campaign).where(Campaign.id == campaign.id).with_for_update(read=True))).scalar_one()
    campaigns.require_open(campaign, Stage.publication, code="selection_objection_window_closed")
    objection = Objection(
        id=uuid.uuid4(), campaign_id=campaign.id, candidate_id=candidate_id, objector_id=principal.id, reason=reason,
        created_at=clock.now(),
    )
    await insert_unique(session, objection, "selection_objection_duplicate")
    await session.flush()
    await chain.append(session, kind="objection.made", table=Objection.__table__, row_id=objection.id, actor=principal.id)
    return objection


async def answer(session: AsyncSession, principal: Principal, objection_id: uuid.UUID, text: str) -> Objection:
    objection = await get_or_raise(session, Objection, objection_id, ProblemError("selection_objection_not_found", objection_id=objection_id), with_for_update=True)
    if objection.answered_at is not None:
        raise ProblemError("selection_objection_answered", answered_at=objection.answered_at.isoformat())
    campaign = await campaigns.get(session, objection.campaign_id)
    if campaign.stage is not Stage.publication:
        raise ProblemError("selection_stage_closed", stage="publication", current=campaign.stage.value, closed="")
    objection.answer, objection.answered_by, objection.answered_at = text, principal.id, clock.now()
    await session.flush()
    await chain.append(session, kind="objection.answered", table=Objection.__table__, row_id=objection.id, actor=principal.id)
    return objection


@campaigns.stage_check(Stage.publication, may_close_early=False)
async def _objections(session: AsyncSession, campaign: Campaign) -> dict[str, int]:
    unanswered = select(Objection).where(Objection.campaign_id == campaign.id, Objection.answered_at.is_(None))
    return {"objection_window_open": 0 if campaigns.is_closed(campaign) else 1, "unanswered_objections": await campaigns.count(session, unanswered)}


@campaigns.on_enter(Stage.final)
async def _finalise(session: AsyncSession, campaign: Campaign, principal: Principal) -> None:
    """Results are final: one event per decided candidate, in the transaction that makes them final."""
    stmt = (
        select(Candidate, Decision).join(Decision, Decision.candidate_id == Candidate.id)
        .where(Candidate.campaign_id == campaign.id, Candidate.status == CandidateStatus.active)
        .order_by(Candidate.id)
    )
    outgoing = []
    for candidate, decision in (await session.execute(stmt)).all():
        kind = OUTCOME_EVENTS[decision.outcome.value]
        payload = lookup(kind, 1)(**CandidateResult(
            candidate_id=candidate.id, campaign_id=campaign.id, student_id=candidate.student_id,
            discipline=candidate.discipline.value, cohort_year=campaign.year, school_id=candidate.school_id,
            grade=candidate.grade, stage=school_stage(candidate.grade),
            rank=decision.rank if decision.composite is not None else None, decided_at=decision.decided_at,
        ).model_dump())
        outgoing.append(Outgoing(type=kind, subject=str(candidate.student_id), payload=payload))
    await publish_many(session, outgoing, source=SOURCE)
    counts: dict[str, int] = {}
    for item in outgoing:
        counts[item.type] = counts.get(item.type, 0) + 1
    await chain.append(session, kind="results.final", table=Campaign.__table__, row_id=campaign.id, actor=principal.id, payload=counts)


def explanation_method() -> str:
    return (ranking.__doc__ or "").strip()

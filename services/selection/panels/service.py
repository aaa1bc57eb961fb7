"""Experts' rules: only a person the directory holds with the `expert` role is registered; an
expert declares their own conflicts, staff anyone's; each declaration is in the record. The
interview panels: every candidate still in the running gets the campaign's `panel_size`
experts by one min-cost flow (shared/assignment.py), never a conflicted pair (declared, or
found from the directory: the expert's school is the student's, the expert is their guardian)."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.selection.campaigns import service as campaigns
from services.selection.db import chain, conflicts, directory
from services.selection.interviews import InterviewResult, provide
from services.selection.models import Campaign, Candidate, CandidateStatus, Discipline, Stage
from services.selection.nominations import service as nominations
from services.selection.panels.models import Adjudication, CampaignRubric, Expert, InterviewScore, PanelMember
from services.selection.panels.schemas import AdjudicationIn, ExpertIn, PanelChangeIn
from shared import clock
from shared.assignment import Assessor, Assignment, AssignmentInfeasible, Subject, assign
from shared.chain import Change
from shared.conflicts import Conflict, ConflictIn
from shared.db import get_or_raise, upsert
from shared.ids import as_uuid
from shared.problems import ProblemError
from shared.rubrics import Rubric, problem_errors
from shared.rubrics.raters import fit_rater_effects
from shared.rubrics.reliability import disagreements, krippendorff_alpha_interval
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
    expert = await upsert(session, Expert, values, key=[Expert.person_id], update=[k for k in values if k != "person_id"])
    await chain.append(session, kind="expert.registered", table=Expert.__table__, row_id=person_id, actor=principal.id)
    return expert


async def get(session: AsyncSession, person_id: uuid.UUID) -> Expert:
    expert = await get_or_raise(session, Expert, person_id, ProblemError("selection_expert_not_found", expert_id=person_id))
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
    return await conflicts.declare_recorded(
        session, chain, Expert.__table__, assessor_id=expert_id, data=data, by_self=_own(principal, expert_id), actor=principal.id,
    )


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
    """Assign again, in this transaction, and store it in place of any earlier assignment (until an expert has scored)."""
    campaign = await campaigns.get(session, campaign_id, lock=True)
    campaigns.require_open(campaign, Stage.interview)
    if (await session.execute(select(InterviewScore.id).where(InterviewScore.campaign_id == campaign.id).limit(1))).first():
        raise ProblemError("selection_scoring_began")
    candidates, result = await propose(session, campaign)
    earlier = list((await session.execute(
        delete(PanelMember).where(PanelMember.campaign_id == campaign.id).returning(PanelMember.id)
    )).scalars())
    now = clock.now()
    rows = [
        dict(id=uuid.uuid4(), campaign_id=campaign.id, candidate_id=c, expert_id=e, assigned_by=principal.id, assigned_at=now)
        for c, members in result.panels.items() for e in members
    ]
    for start in range(0, len(rows), 1000):
        await session.execute(insert(PanelMember).values(rows[start:start + 1000]))
    # The earlier assignment's rows are recorded gone, then the new ones.
    await chain.append_many(session, [
        *(Change("panel.unassigned", principal.id, PanelMember.__table__, i) for i in earlier),
        *(Change("panel.assigned", principal.id, PanelMember.__table__, r["id"]) for r in rows),
    ])
    return candidates, result


async def panels(session: AsyncSession, campaign_id: uuid.UUID) -> dict[uuid.UUID, list[uuid.UUID]]:
    stmt = select(PanelMember.candidate_id, PanelMember.expert_id).where(PanelMember.campaign_id == campaign_id).order_by(
        PanelMember.candidate_id, PanelMember.expert_id
    )
    out: dict[uuid.UUID, list[uuid.UUID]] = {}
    for candidate_id, expert_id in await session.execute(stmt):
        out.setdefault(candidate_id, []).append(expert_id)
    return out


# ---------------------------------------------------------------- rubrics and scores

# Totals (0-100) of one candidate further apart than this are flagged for staff to adjudicate.
DISAGREEMENT = 20.0


async def set_rubric(session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, discipline: str, rubric: Rubric) -> CampaignRubric:
    campaign = await campaigns.get(session, campaign_id, lock=True)
    await campaigns.discipline(session, campaign_id, Discipline(discipline))
    if campaigns.weight_frozen(campaign, Stage.interview):
        raise ProblemError("selection_rubric_frozen")
    values = dict(id=uuid.uuid4(), campaign_id=campaign_id, discipline=discipline, rubric=rubric.model_dump(mode="json"),
                  set_by=principal.id, set_at=clock.now())
    row = await upsert(
        session, CampaignRubric, values, key=[CampaignRubric.campaign_id, CampaignRubric.discipline], update=["rubric", "set_by", "set_at"],
    )
    await chain.append(session, kind="rubric.set", table=CampaignRubric.__table__, row_id=row.id, actor=principal.id)
    return row


async def rubric_of(session: AsyncSession, campaign_id: uuid.UUID, discipline: str) -> Rubric:
    row = (await session.execute(select(CampaignRubric).where(
        CampaignRubric.campaign_id == campaign_id, CampaignRubric.discipline == discipline
    ))).scalar_one_or_none()
    if row is None:
        raise ProblemError("selection_rubric_missing", discipline=discipline)
    return Rubric.model_validate(row.rubric)


async def _assigned(session: AsyncSession, principal: Principal, candidate_id: uuid.UUID) -> Candidate:
    """The candidate, if the caller sits on their panel: anyone else is told there is no such candidate."""
    me = as_uuid(principal.id)
    stmt = select(Candidate).join(PanelMember, PanelMember.candidate_id == Candidate.id).where(
        Candidate.id == candidate_id, PanelMember.expert_id == me
    )
    candidate = (await session.execute(stmt)).scalar_one_or_none() if me else None
    if candidate is None:
        raise ProblemError("selection_candidate_not_found", candidate_id=candidate_id)
    return candidate


async def score(session: AsyncSession, principal: Principal, candidate_id: uuid.UUID, scores: dict[str, float]) -> InterviewScore:
    candidate = await _assigned(session, principal, candidate_id)
    expert = await get(session, as_uuid(principal.id))
    campaign = (await session.execute(select(Campaign).where(Campaign.id == candidate.campaign_id).with_for_update(read=True))).scalar_one()
    campaigns.require_open(campaign, Stage.interview)
    # A conflict declared (or come about) after the panels were assigned: the expert stands aside.
    if await conflicts.check(session, expert.person_id, candidate.student_id, expert.school_id):
        raise ProblemError("selection_conflicted", candidate_id=candidate_id)
    rubric = await rubric_of(session, campaign.id, candidate.discipline.value)
    errors = rubric.check(scores)
    if errors:
        raise ProblemError(
            "selection_rubric_scores_invalid", count=len(errors),
            errors=problem_errors(errors),
        )
    values = dict(id=uuid.uuid4(), campaign_id=campaign.id, candidate_id=candidate_id, expert_id=expert.person_id,
                  scores=scores, total=Decimal(repr(rubric.total(scores))).quantize(Decimal("0.0001")), submitted_at=clock.now())
    row = await upsert(
        session, InterviewScore, values, key=[InterviewScore.candidate_id, InterviewScore.expert_id], update=["scores", "total", "submitted_at"],
    )
    await chain.append(session, kind="interview.scored", table=InterviewScore.__table__, row_id=row.id, actor=principal.id)
    return row


async def scores_of(session: AsyncSession, principal: Principal, candidate_id: uuid.UUID) -> list[InterviewScore]:
    """Staff see every score; a panel member the others' only once they have submitted their own."""
    if not principal.has_role("admin", "staff"):
        await _assigned(session, principal, candidate_id)
    rows = list((await session.execute(
        select(InterviewScore).where(InterviewScore.candidate_id == candidate_id).order_by(InterviewScore.expert_id)
    )).scalars())
    if principal.has_role("admin", "staff"):
        return rows
    me = as_uuid(principal.id)
    if not any(r.expert_id == me for r in rows):
        raise ProblemError("selection_scores_hidden")
    return rows


async def adjudications(session: AsyncSession, campaign_id: uuid.UUID) -> dict[uuid.UUID, Adjudication]:
    rows = (await session.execute(select(Adjudication).where(Adjudication.campaign_id == campaign_id))).scalars()
    return {a.candidate_id: a for a in rows}


def _alpha(selected: list[tuple[uuid.UUID, uuid.UUID, float]]) -> float | None:
    """Krippendorff's alpha (interval) of (candidate, expert, total) ratings: experts as coders, candidates as units."""
    experts = {e: i for i, e in enumerate(sorted({e for _, e, _ in selected}))}
    units = {c: i for i, c in enumerate(sorted({c for c, _, _ in selected}))}
    if not units:
        return None
    matrix: list[list[float | None]] = [[None] * len(units) for _ in experts]
    for c, e, t in selected:
        matrix[experts[e]][units[c]] = t
    return krippendorff_alpha_interval(matrix)


async def report(session: AsyncSession, campaign_id: uuid.UUID, threshold: float = DISAGREEMENT) -> dict:
    """The scores that count (those of the candidates' current panel members; a replaced expert's
    stay on record), the rater-effects fit over them, agreement, flags and staff's rulings."""
    rows = (await session.execute(
        select(InterviewScore.candidate_id, InterviewScore.expert_id, InterviewScore.total, Candidate.discipline)
        .join(Candidate, Candidate.id == InterviewScore.candidate_id)
        .join(PanelMember, (PanelMember.candidate_id == InterviewScore.candidate_id) & (PanelMember.expert_id == InterviewScore.expert_id))
        .where(InterviewScore.campaign_id == campaign_id, Candidate.status == CandidateStatus.active)
        .order_by(InterviewScore.candidate_id, InterviewScore.expert_id)
    )).all()
    ratings = [(c, e, float(t)) for c, e, t, _ in rows]
    fit = fit_rater_effects(ratings)
    by_candidate: dict[uuid.UUID, list[float]] = {}
    by_expert: dict[uuid.UUID, int] = {}
    for c, e, t in ratings:
        by_candidate.setdefault(c, []).append(t)
        by_expert[e] = by_expert.get(e, 0) + 1
    flagged = set(disagreements(by_candidate, threshold))
    to_rule = flagged if threshold == DISAGREEMENT else set(disagreements(by_candidate, DISAGREEMENT))
    ruled = await adjudications(session, campaign_id)
    # A panel, for agreement, is the set of experts a candidate has: candidates who share it are its units.
    stored = await panels(session, campaign_id)
    by_panel: dict[tuple[uuid.UUID, ...], list[tuple[uuid.UUID, uuid.UUID, float]]] = {}
    for c, e, t in ratings:
        by_panel.setdefault(tuple(stored.get(c, ())), []).append((c, e, t))
    panel_agreement = sorted(
        ({"experts": list(key), "candidates": len({c for c, _, _ in got}), "alpha": _alpha(got)} for key, got in by_panel.items()),
        key=lambda p: (-p["candidates"], [str(e) for e in p["experts"]]),
    )
    disciplines = sorted({d.value for *_, d in rows})
    return {
        "fit": fit, "by_candidate": by_candidate, "by_expert": by_expert, "flagged": flagged, "threshold": threshold,
        "adjudications": ruled, "unadjudicated": to_rule - set(ruled),
        "alpha": _alpha(ratings),
        "alpha_by_discipline": {d: _alpha([(c, e, float(t)) for c, e, t, dd in rows if dd.value == d]) for d in disciplines},
        "alpha_by_panel": panel_agreement,
    }


@provide
async def interview_results(session: AsyncSession, campaign_id: uuid.UUID) -> dict[uuid.UUID, InterviewResult]:
    """Each scored candidate's panel score: the mean of the totals, corrected for the experts'
    severity, and staff's score where they adjudicated with one."""
    found = await report(session, campaign_id)
    fit, ruled = found["fit"], found["adjudications"]
    out = {}
    for c, totals in found["by_candidate"].items():
        raw = sum(totals) / len(totals)
        corrected = fit.corrected.get(c)
        ruling = ruled.get(c)
        out[c] = InterviewResult(
            raw_mean=raw, corrected=corrected, correction=None if corrected is None else corrected - raw,
            raters=len(totals), flagged=c in found["flagged"], adjudicated=ruling is not None,
            adjudicated_score=None if ruling is None or ruling.score is None else float(ruling.score),
        )
    return out


async def adjudicate(session: AsyncSession, principal: Principal, candidate_id: uuid.UUID, data: AdjudicationIn) -> Adjudication:
    """Staff rule on a flagged candidate while the interview is open; ruling again replaces the ruling."""
    candidate = await get_or_raise(session, Candidate, candidate_id, ProblemError("selection_candidate_not_found", candidate_id=candidate_id))
    campaign = await campaigns.get(session, candidate.campaign_id, lock=True)
    campaigns.require_open(campaign, Stage.interview)
    found = await report(session, campaign.id)
    if candidate_id not in found["flagged"]:
        raise ProblemError("selection_not_flagged", candidate_id=candidate_id, threshold=f"{DISAGREEMENT:g}")
    values = dict(id=uuid.uuid4(), campaign_id=campaign.id, candidate_id=candidate_id,
                  score=None if data.score is None else Decimal(repr(data.score)).quantize(Decimal("0.0001")),
                  reason=data.reason, decided_by=principal.id, decided_at=clock.now())
    row = await upsert(
        session, Adjudication, values, key=[Adjudication.candidate_id], update=["score", "reason", "decided_by", "decided_at"],
    )
    totals = found["by_candidate"][candidate_id]
    await chain.append(session, kind="interview.adjudicated", table=Adjudication.__table__, row_id=row.id, actor=principal.id,
                       payload={"totals": totals, "corrected": found["fit"].corrected.get(candidate_id)})
    return row


async def candidate_in(session: AsyncSession, campaign_id: uuid.UUID, candidate_id: uuid.UUID) -> Candidate:
    candidate = await session.get(Candidate, candidate_id)
    if candidate is None or candidate.campaign_id != campaign_id:
        await campaigns.get(session, campaign_id)
        raise ProblemError("selection_candidate_not_found", candidate_id=candidate_id)
    return candidate


async def replace_member(session: AsyncSession, principal: Principal, candidate_id: uuid.UUID, data: PanelChangeIn) -> list[uuid.UUID]:
    """A manual edit of a saved panel: `remove` leaves, `add` joins, if `add` is active, without a
    conflict with the student and below their maximum load in the campaign. Answers the panel."""
    candidate = await get_or_raise(session, Candidate, candidate_id, ProblemError("selection_candidate_not_found", candidate_id=candidate_id))
    # One edit of a campaign's panels at a time: two edits cannot both take an expert's last place.
    campaign = await campaigns.get(session, candidate.campaign_id, lock=True)
    campaigns.require_open(campaign, Stage.interview)
    if candidate.status is CandidateStatus.withdrawn:
        raise ProblemError("selection_candidate_withdrawn", withdrawn_at=candidate.withdrawn_at.isoformat())
    member = (await session.execute(select(PanelMember).where(
        PanelMember.candidate_id == candidate_id, PanelMember.expert_id == data.remove
    ))).scalar_one_or_none()
    if member is None:
        raise ProblemError("selection_not_on_panel", expert_id=data.remove, candidate_id=candidate_id)
    if data.add == data.remove or (await session.execute(select(PanelMember.id).where(
        PanelMember.candidate_id == candidate_id, PanelMember.expert_id == data.add
    ))).first():
        raise ProblemError("selection_already_on_panel", expert_id=data.add, candidate_id=candidate_id)
    expert = await get(session, data.add)
    if not expert.active:
        raise ProblemError("selection_expert_inactive", expert_id=data.add)
    found = await conflicts.check(session, expert.person_id, candidate.student_id, expert.school_id)
    if found:
        raise ProblemError("selection_assignment_conflicted", expert_id=data.add,
                           kinds=", ".join(sorted({c.kind.value for c in found})))
    load = await campaigns.count(session, select(PanelMember).where(
        PanelMember.campaign_id == campaign.id, PanelMember.expert_id == data.add
    ))
    if load >= expert.max_load:
        raise ProblemError("selection_expert_full", expert_id=data.add, load=load)
    scored = (await session.execute(select(InterviewScore.id).where(
        InterviewScore.candidate_id == candidate_id, InterviewScore.expert_id == data.remove
    ))).first() is not None
    member.expert_id, member.assigned_by, member.assigned_at = data.add, principal.id, clock.now()
    await chain.append(session, kind="panel.member_replaced", table=PanelMember.__table__, row_id=member.id, actor=principal.id,
                       payload={"removed": data.remove, "added": data.add, "reason": data.reason, "score_set_aside": scored})
    return (await panels(session, campaign.id))[candidate_id]


@campaigns.stage_check(Stage.interview)
async def _interview_work(session: AsyncSession, campaign: Campaign) -> dict[str, int]:
    active = nominations.active(campaign.id)
    unassigned = active.where(~Candidate.id.in_(select(PanelMember.candidate_id)))
    missing = select(PanelMember).join(Candidate, Candidate.id == PanelMember.candidate_id).where(
        PanelMember.campaign_id == campaign.id, Candidate.status == CandidateStatus.active,
        ~select(InterviewScore.id).where(
            InterviewScore.candidate_id == PanelMember.candidate_id, InterviewScore.expert_id == PanelMember.expert_id
        ).exists(),
    )
    work = {"without_panel": await campaigns.count(session, unassigned), "scores_missing": await campaigns.count(session, missing)}
    if not any(work.values()):
        # Flags are only final once every score is in.
        work["unadjudicated"] = len((await report(session, campaign.id))["unadjudicated"])
    return work

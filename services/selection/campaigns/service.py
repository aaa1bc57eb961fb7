"""Campaign rules: creating one, its weights and deadlines, and moving its stages forward.

A stage moves only to the next one, only by staff, and only when its work is complete, or
when staff close it with a reason (what was unfinished is recorded with the reason). Each
area of the service says what "complete" means for its stage by registering a check
(`stage_check`), and what happens when a stage begins (`on_enter`): the panels say an
interview is complete when every panel has scored, the results that publication needs every
candidate decided and cannot be forced. A deadline is a timer event
(`selection.stage.deadline`, available at the deadline) that closes the stage when it comes.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.selection.campaigns.schemas import AdvanceIn, CampaignIn, DisciplinePatch
from services.selection.models import (
    SCORED_STAGES, STAGES, Campaign, CampaignDiscipline, Discipline, Stage, StageTransition, stage_index,
)
from services.selection.db import chain
from shared import clock
from shared.events import publish
from shared.events.contracts.selection import SOURCE, StageDeadline
from shared.problems import ProblemError
from shared.tokens import Principal
from shared.unique import insert_unique

# What a stage still lacks, by kind ({"unscored": 3}); empty when the stage is complete.
Check = Callable[[AsyncSession, Campaign], Awaitable[dict[str, int]]]
Hook = Callable[[AsyncSession, Campaign, Principal], Awaitable[None]]


@dataclass(frozen=True)
class _Check:
    check: Check
    # False: the stage cannot be closed early, reason or not.
    may_close_early: bool


_checks: dict[Stage, list[_Check]] = {}
_on_enter: dict[Stage, list[Hook]] = {}


def stage_check(stage: Stage, *, may_close_early: bool = True) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        _checks.setdefault(stage, []).append(_Check(check, may_close_early))
        return check

    return register


def on_enter(stage: Stage) -> Callable[[Hook], Hook]:
    def register(hook: Hook) -> Hook:
        _on_enter.setdefault(stage, []).append(hook)
        return hook

    return register


def next_stage(stage: Stage) -> Stage | None:
    i = stage_index(stage)
    return STAGES[i + 1] if i + 1 < len(STAGES) else None


def deadline_of(campaign: Campaign, stage: Stage) -> datetime | None:
    value = campaign.deadlines.get(stage.value)
    return datetime.fromisoformat(value) if value else None


def is_closed(campaign: Campaign, now: datetime | None = None) -> bool:
    """The current stage takes no more work: closed by staff or its timer, or its deadline has passed
    (the timer may be a moment behind the clock)."""
    if campaign.stage_closed_at is not None:
        return True
    deadline = deadline_of(campaign, campaign.stage)
    return deadline is not None and (now or clock.now()) >= deadline


def require_open(campaign: Campaign, stage: Stage, *, code: str = "selection_stage_closed", **params: Any) -> None:
    """Refuse work for `stage` unless it is the campaign's current stage and still open."""
    if campaign.stage != stage or is_closed(campaign):
        closed = " (closed)" if campaign.stage == stage else ""
        if code == "selection_stage_closed":
            raise ProblemError(code, stage=stage.value, current=campaign.stage.value, closed=closed, **params)
        raise ProblemError(code, **params)


async def get(session: AsyncSession, campaign_id: uuid.UUID, *, lock: bool = False) -> Campaign:
    stmt = select(Campaign).where(Campaign.id == campaign_id)
    if lock:
        stmt = stmt.with_for_update()
    campaign = (await session.execute(stmt)).scalar_one_or_none()
    if campaign is None:
        raise ProblemError("selection_campaign_not_found", campaign_id=campaign_id)
    return campaign


async def disciplines(session: AsyncSession, campaign_id: uuid.UUID) -> list[CampaignDiscipline]:
    stmt = select(CampaignDiscipline).where(CampaignDiscipline.campaign_id == campaign_id).order_by(CampaignDiscipline.discipline)
    return list((await session.execute(stmt)).scalars())


async def discipline(session: AsyncSession, campaign_id: uuid.UUID, name: Discipline) -> CampaignDiscipline:
    found = await session.get(CampaignDiscipline, (campaign_id, name))
    if found is None:
        raise ProblemError("selection_discipline_not_offered", discipline=name.value, rule="discipline")
    return found


def _check_weights(discipline: str, weights: dict[str, int]) -> None:
    if not any(weights.values()):
        raise ProblemError("selection_weights_invalid", discipline=discipline)


def _check(data: CampaignIn) -> None:
    """What the schema cannot say: each rule its own code."""
    seen: set[Discipline] = set()
    for d in data.disciplines:
        if d.discipline in seen:
            raise ProblemError("selection_discipline_repeated", discipline=d.discipline.value)
        seen.add(d.discipline)
        if d.max_grade < d.min_grade:
            raise ProblemError("selection_grades_invalid", discipline=d.discipline.value, min_grade=d.min_grade, max_grade=d.max_grade)
        _check_weights(d.discipline.value, d.weights.model_dump())
    for name, scale in (("iq_scale", data.iq_scale), ("written_scale", data.written_scale)):
        if scale.max <= scale.min:
            raise ProblemError("selection_scale_invalid", scale=name, min=scale.min, max=scale.max)


async def create(session: AsyncSession, principal: Principal, data: CampaignIn) -> Campaign:
    _check(data)
    now = clock.now()
    campaign = Campaign(
        id=uuid.uuid4(), year=data.year, title=data.title, school_limit=data.school_limit,
        objection_days=data.objection_days, panel_size=data.panel_size,
        iq_min=data.iq_scale.min, iq_max=data.iq_scale.max,
        written_min=data.written_scale.min, written_max=data.written_scale.max,
        stage=Stage.draft, stage_started_at=now, deadlines={}, created_by=principal.id, created_at=now,
    )
    await insert_unique(session, campaign, "selection_campaign_year_taken", year=data.year)
    for d in data.disciplines:
        session.add(CampaignDiscipline(
            campaign_id=campaign.id, discipline=d.discipline, quota=d.quota, min_grade=d.min_grade,
            max_grade=d.max_grade, weights=_weights_json(d.weights.model_dump()),
        ))
    await session.flush()
    await chain.append(
        session, kind="campaign.created", table=Campaign.__table__, row_id=campaign.id, actor=principal.id,
        payload={"disciplines": [d.model_dump(mode="json") for d in data.disciplines], "school_limit": data.school_limit},
    )
    return campaign


def _weights_json(weights: dict[str, Any]) -> dict[str, int]:
    return {k: int(v) for k, v in weights.items()}


def weight_frozen(campaign: Campaign, stage: Stage) -> bool:
    return stage_index(campaign.stage) >= stage_index(stage)


async def patch_discipline(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, name: Discipline, data: DisciplinePatch
) -> CampaignDiscipline:
    campaign = await get(session, campaign_id, lock=True)
    row = await discipline(session, campaign_id, name)
    if data.weights is not None:
        _check_weights(name.value, data.weights.model_dump())
        new = _weights_json(data.weights.model_dump())
        for stage in SCORED_STAGES:
            if new[stage.value] != row.weights.get(stage.value) and weight_frozen(campaign, stage):
                raise ProblemError("selection_weights_frozen", stage=stage.value)
        row.weights = new
    if data.quota is not None:
        if stage_index(campaign.stage) > stage_index(Stage.decision):
            raise ProblemError("selection_stage_closed", stage="decision", current=campaign.stage.value, closed="")
        row.quota = data.quota
    await session.flush()
    await chain.append(
        session, kind="discipline.changed", table=Campaign.__table__, row_id=campaign.id, actor=principal.id,
        payload={"discipline": name.value, "quota": row.quota, "weights": row.weights},
    )
    return row


async def set_deadline(
    session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, stage: Stage, closes_at: datetime
) -> Campaign:
    campaign = await get(session, campaign_id, lock=True)
    if stage in (Stage.draft, Stage.final, Stage.publication):
        reason = "publication's deadline is the end of the objection window, set when the results are published"
        raise ProblemError("selection_deadline_invalid", stage=stage.value, reason=reason if stage is Stage.publication else "this stage has no deadline")
    if closes_at.tzinfo is None:
        raise ProblemError("selection_deadline_invalid", stage=stage.value, reason="give a time zone, e.g. +08:00")
    if stage_index(stage) < stage_index(campaign.stage) or (stage == campaign.stage and campaign.stage_closed_at):
        raise ProblemError("selection_deadline_invalid", stage=stage.value, reason="the stage is over")
    if closes_at <= clock.now():
        raise ProblemError("selection_deadline_invalid", stage=stage.value, reason="the time has passed")
    await schedule_deadline(session, campaign, stage, closes_at)
    await chain.append(
        session, kind="deadline.set", table=Campaign.__table__, row_id=campaign.id, actor=principal.id,
        payload={"stage": stage.value},
    )
    return campaign


async def schedule_deadline(session: AsyncSession, campaign: Campaign, stage: Stage, closes_at: datetime) -> None:
    campaign.deadlines = {**campaign.deadlines, stage.value: closes_at.isoformat()}
    await session.flush()
    await publish(
        session, type="selection.stage.deadline", payload=StageDeadline(campaign_id=campaign.id, stage=stage.value, closes_at=closes_at),
        source=SOURCE, subject=str(campaign.id), available_at=closes_at,
    )


async def on_deadline(session: AsyncSession, event: Any) -> None:
    """The timer of a stage's deadline: close the stage if the campaign is still in it and the
    deadline is still this one. Safe to run twice (a closed stage stays as it was)."""
    timer: StageDeadline = event.payload
    campaign = await session.get(Campaign, timer.campaign_id, with_for_update=True)
    if campaign is None or campaign.stage.value != timer.stage or campaign.stage_closed_at is not None:
        return
    if deadline_of(campaign, campaign.stage) != timer.closes_at:
        return
    await _close(session, campaign, by="deadline", reason=None, incomplete=await missing(session, campaign))


async def _close(session: AsyncSession, campaign: Campaign, *, by: str, reason: str | None, incomplete: dict[str, int]) -> None:
    campaign.stage_closed_at = clock.now()
    await _transition(session, StageTransition(
        campaign_id=campaign.id, action="closed", from_stage=campaign.stage, to_stage=campaign.stage,
        incomplete=incomplete, reason=reason, by=by, at=campaign.stage_closed_at,
    ))


async def _transition(session: AsyncSession, transition: StageTransition) -> None:
    session.add(transition)
    await session.flush()
    await chain.append(
        session, kind=f"stage.{transition.action}", table=StageTransition.__table__, row_id=transition.id, actor=transition.by,
    )
    await chain.append(session, kind="campaign.stage", table=Campaign.__table__, row_id=transition.campaign_id, actor=transition.by)


async def missing(session: AsyncSession, campaign: Campaign) -> dict[str, int]:
    """What the current stage still lacks before it may be left (empty: complete)."""
    out: dict[str, int] = {}
    for c in _checks.get(campaign.stage, []):
        out.update(await c.check(session, campaign))
    return {k: v for k, v in out.items() if v}


def _may_close_early(stage: Stage) -> bool:
    return all(c.may_close_early for c in _checks.get(stage, []))


# How each kind of unfinished work reads in a problem's detail (`missing` keeps the counts).
_MISSING = {
    "window_open": "the window is still open",
    "objection_window_open": "the objection window is still open",
    "without_result": "{n} candidate(s) without a result",
    "undecided": "{n} candidate(s) undecided",
    "unanswered_objections": "{n} objection(s) unanswered",
    "without_panel": "{n} candidate(s) without a panel",
    "scores_missing": "{n} panel score(s) missing",
    "unadjudicated": "{n} flagged candidate(s) not adjudicated",
}


def _describe(missing: dict[str, int]) -> str:
    return "; ".join(_MISSING.get(k, k.replace("_", " ") + ": {n}").format(n=v) for k, v in sorted(missing.items()))


async def advance(session: AsyncSession, principal: Principal, campaign_id: uuid.UUID, data: AdvanceIn) -> Campaign:
    campaign = await get(session, campaign_id, lock=True)
    following = next_stage(campaign.stage)
    if following is None or data.to != following:
        raise ProblemError(
            "selection_stage_skipped", current=campaign.stage.value, requested=data.to.value,
            next=following.value if following else "none (the campaign is final)",
        )
    lacking = await missing(session, campaign)
    if lacking and not _may_close_early(campaign.stage):
        raise ProblemError("selection_stage_must_complete", stage=campaign.stage.value, missing=_describe(lacking))
    if lacking and data.reason is None:
        raise ProblemError("selection_stage_incomplete", stage=campaign.stage.value, missing=_describe(lacking))
    now = clock.now()
    transition = StageTransition(
        campaign_id=campaign.id, action="advanced", from_stage=campaign.stage, to_stage=following,
        incomplete=lacking, reason=data.reason, by=principal.id, at=now,
    )
    campaign.stage, campaign.stage_started_at, campaign.stage_closed_at = following, now, None
    await _transition(session, transition)
    for hook in _on_enter.get(following, []):
        await hook(session, campaign, principal)
    return campaign


async def transitions(session: AsyncSession, campaign_id: uuid.UUID) -> list[StageTransition]:
    stmt = select(StageTransition).where(StageTransition.campaign_id == campaign_id).order_by(StageTransition.at, StageTransition.id)
    return list((await session.execute(stmt)).scalars())


@stage_check(Stage.nomination)
async def _nomination_window(session: AsyncSession, campaign: Campaign) -> dict[str, int]:
    return {} if is_closed(campaign) else {"window_open": 1}


async def count(session: AsyncSession, stmt: Any) -> int:
    return int((await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one())

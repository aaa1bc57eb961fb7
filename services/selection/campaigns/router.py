"""The campaign API: staff set a year's campaign up and move it through its stages; anyone signed in reads it."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query
from sqlalchemy import select

from services.selection.campaigns import service
from services.selection.campaigns.schemas import (
    AdvanceIn, CampaignIn, CampaignOut, DeadlineIn, DisciplineOut, DisciplinePatch, ScaleOut, StageProgress, TransitionOut,
)
from services.selection.models import Campaign, CampaignDiscipline, Discipline, Stage
from shared.auth import CurrentPrincipal, require
from shared.db import DbSession
from shared.idempotency import IdempotencyKey
from shared.pagination import Page, PageParams, paginate
from shared.problems import problem_responses
from shared.routes import APIRouter
from shared.tokens import Principal

router = APIRouter(prefix="/campaigns", tags=["campaigns"])

Staff = Annotated[Principal, Depends(require("staff"))]
Auditor = Annotated[Principal, Depends(require("admin", "staff"))]
NOT_FOUND = ("selection_campaign_not_found",)


def discipline_out(d: CampaignDiscipline) -> DisciplineOut:
    return DisciplineOut(discipline=d.discipline, quota=d.quota, min_grade=d.min_grade, max_grade=d.max_grade, weights=d.weights)


async def campaign_out(session, campaign: Campaign) -> CampaignOut:
    return CampaignOut(
        id=campaign.id, year=campaign.year, title=campaign.title, school_limit=campaign.school_limit,
        objection_days=campaign.objection_days, panel_size=campaign.panel_size,
        iq_scale=ScaleOut(min=int(campaign.iq_min), max=int(campaign.iq_max)),
        written_scale=ScaleOut(min=int(campaign.written_min), max=int(campaign.written_max)),
        stage=campaign.stage, stage_started_at=campaign.stage_started_at, stage_closed_at=campaign.stage_closed_at,
        deadlines=campaign.deadlines, published_at=campaign.published_at, objections_close_at=campaign.objections_close_at,
        disciplines=[discipline_out(d) for d in await service.disciplines(session, campaign.id)],
        created_at=campaign.created_at,
    )


@router.post(
    "", status_code=201, response_model=CampaignOut,
    responses=problem_responses(
        "selection_campaign_year_taken", "selection_discipline_repeated", "selection_grades_invalid",
        "selection_weights_invalid", "selection_scale_invalid",
    ),
    summary="Create a year's selection campaign (in stage draft)",
)
async def create_campaign(principal: Staff, body: CampaignIn, session: DbSession, idempotency: IdempotencyKey) -> CampaignOut:
    """Its disciplines, each with a quota, eligible grades and the weight of each scored stage
    (IQ test, written test, interview) in the composite. A year has one campaign."""
    campaign = await service.create(session, principal, body)
    return await idempotency.save(await campaign_out(session, campaign))


@router.get("", response_model=Page[CampaignOut], summary="List campaigns, newest year first")
async def list_campaigns(
    _: CurrentPrincipal, session: DbSession, page: PageParams,
    stage: Annotated[Stage | None, Query(description="Only campaigns in this stage.")] = None,
) -> Page[CampaignOut]:
    stmt = select(Campaign)
    if stage is not None:
        stmt = stmt.where(Campaign.stage == stage)
    found = await paginate(session, stmt, order_by=(Campaign.year.desc(),), params=page)
    return Page(items=[await campaign_out(session, c) for c in found.items], next_cursor=found.next_cursor)


@router.get("/{campaign_id}", response_model=CampaignOut, responses=problem_responses(*NOT_FOUND), summary="Read a campaign")
async def get_campaign(_: CurrentPrincipal, campaign_id: uuid.UUID, session: DbSession) -> CampaignOut:
    return await campaign_out(session, await service.get(session, campaign_id))


@router.patch(
    "/{campaign_id}/disciplines/{discipline}", response_model=DisciplineOut,
    responses=problem_responses(
        *NOT_FOUND, "selection_discipline_not_offered", "selection_weights_frozen", "selection_weights_invalid", "selection_stage_closed",
    ),
    summary="Change a discipline's quota (until decisions) or its stage weights (each until its stage opens)",
)
async def patch_discipline(
    principal: Staff, campaign_id: uuid.UUID, discipline: Discipline, body: DisciplinePatch, session: DbSession
) -> DisciplineOut:
    return discipline_out(await service.patch_discipline(session, principal, campaign_id, discipline, body))


@router.put(
    "/{campaign_id}/deadlines/{stage}", response_model=CampaignOut,
    responses=problem_responses(*NOT_FOUND, "selection_deadline_invalid"),
    summary="Set when a stage stops taking work (nominations, test scores, interview scores, decisions)",
)
async def set_deadline(principal: Staff, campaign_id: uuid.UUID, stage: Stage, body: DeadlineIn, session: DbSession) -> CampaignOut:
    """At the deadline the stage closes by itself (a timer, not a cron): nothing more is taken,
    and staff may move to the next stage. Setting it again moves it; the old time then does nothing."""
    return await campaign_out(session, await service.set_deadline(session, principal, campaign_id, stage, body.closes_at))


@router.get(
    "/{campaign_id}/progress", response_model=StageProgress, responses=problem_responses(*NOT_FOUND),
    summary="What the current stage still lacks before it can be left",
)
async def stage_progress(_: Auditor, campaign_id: uuid.UUID, session: DbSession) -> StageProgress:
    campaign = await service.get(session, campaign_id)
    lacking = await service.missing(session, campaign)
    return StageProgress(stage=campaign.stage, closed=service.is_closed(campaign), complete=not lacking, missing=lacking)


@router.post(
    "/{campaign_id}/advance", response_model=CampaignOut,
    responses=problem_responses(*NOT_FOUND, "selection_stage_skipped", "selection_stage_incomplete", "selection_stage_must_complete"),
    summary="Move the campaign to its next stage",
)
async def advance(principal: Staff, campaign_id: uuid.UUID, body: AdvanceIn, session: DbSession) -> CampaignOut:
    """Only to the next stage. When the current stage's work is not complete (see `progress`),
    a `reason` closes it anyway and is recorded with what was missing; publication and
    decisions cannot be cut short. Moving to `publication` publishes the admitted list and
    opens the objection window; moving to `final` sends the results out."""
    return await campaign_out(session, await service.advance(session, principal, campaign_id, body))


@router.get(
    "/{campaign_id}/transitions", response_model=list[TransitionOut], responses=problem_responses(*NOT_FOUND),
    summary="Every stage move and closure of the campaign, in order",
)
async def list_transitions(_: Auditor, campaign_id: uuid.UUID, session: DbSession) -> list[TransitionOut]:
    await service.get(session, campaign_id)
    return [TransitionOut.model_validate(t, from_attributes=True) for t in await service.transitions(session, campaign_id)]

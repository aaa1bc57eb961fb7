"""Assessment rules: a test's results are taken only while its stage is open, within the campaign's scale.

Entering a result again replaces it while the stage is open (each version is kept in the
record, services/selection/record.py); an upload writes every row of the file or none.
A test stage is complete when every candidate still in the running has a result.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.selection.assessments.schemas import ScoreIn, TestStage
from services.selection.campaigns import service as campaigns
from services.selection.models import AssessmentScore, Campaign, Candidate, CandidateStatus, ScoreState, Stage
from services.selection.nominations import service as nominations
from services.selection.db import chain
from shared import clock
from shared.chain import Change
from shared.db import get_or_raise
from shared.problems import ProblemError


def scale(campaign: Campaign, stage: TestStage) -> tuple[Decimal, Decimal]:
    if stage is TestStage.iq_test:
        return campaign.iq_min, campaign.iq_max
    return campaign.written_min, campaign.written_max


def check(campaign: Campaign, stage: TestStage, data: ScoreIn) -> Decimal | None:
    """The score as stored (two decimals), once it fits its state and the stage's scale."""
    if (data.state is ScoreState.scored) != (data.score is not None):
        raise ProblemError("selection_score_state_mismatch", state=data.state.value)
    if data.score is None:
        return None
    score = Decimal(repr(data.score)).quantize(Decimal("0.01"))
    low, high = scale(campaign, stage)
    if not low <= score <= high:
        raise ProblemError("selection_score_out_of_scale", stage=stage.value, min=low, max=high, score=data.score)
    return score


async def enter(
    session: AsyncSession, by: str, candidate_id: uuid.UUID, stage: TestStage, data: ScoreIn
) -> AssessmentScore:
    candidate = await get_or_raise(session, Candidate, candidate_id, ProblemError("selection_candidate_not_found", candidate_id=candidate_id))
    campaign = await _open_campaign(session, candidate.campaign_id, stage)
    if candidate.status is CandidateStatus.withdrawn:
        raise ProblemError("selection_candidate_withdrawn", withdrawn_at=candidate.withdrawn_at.isoformat())
    score = check(campaign, stage, data)
    rows = await write(session, by, stage, [(candidate_id, data.state, score, data.remark)])
    return rows[0]


async def _open_campaign(session: AsyncSession, campaign_id: uuid.UUID, stage: TestStage) -> Campaign:
    # Shared: results are taken side by side, while staff cannot move the stage on under them.
    campaign = (await session.execute(select(Campaign).where(Campaign.id == campaign_id).with_for_update(read=True))).scalar_one_or_none()
    if campaign is None:
        raise ProblemError("selection_campaign_not_found", campaign_id=campaign_id)
    campaigns.require_open(campaign, Stage(stage.value))
    return campaign


async def open_for_upload(session: AsyncSession, campaign_id: uuid.UUID, stage: TestStage) -> tuple[Campaign, frozenset[uuid.UUID]]:
    """The campaign, open for `stage`, and the ids of its candidates still in the running."""
    campaign = await _open_campaign(session, campaign_id, stage)
    ids = (await session.execute(nominations.active(campaign_id).with_only_columns(Candidate.id))).scalars()
    return campaign, frozenset(ids)


async def write(
    session: AsyncSession, by: str, stage: TestStage, results: list[tuple[uuid.UUID, ScoreState, Decimal | None, str | None]]
) -> list[AssessmentScore]:
    now = clock.now()
    values = [
        dict(id=uuid.uuid4(), candidate_id=c, stage=Stage(stage.value), state=state, score=score, remark=remark, entered_by=by, entered_at=now)
        for c, state, score, remark in results
    ]
    out: list[AssessmentScore] = []
    for start in range(0, len(values), 1000):
        batch = values[start:start + 1000]
        stmt = insert(AssessmentScore).values(batch)
        stmt = stmt.on_conflict_do_update(
            index_elements=[AssessmentScore.candidate_id, AssessmentScore.stage],
            set_={k: stmt.excluded[k] for k in ("state", "score", "remark", "entered_by", "entered_at")},
        ).returning(AssessmentScore)
        out.extend((await session.execute(stmt.execution_options(populate_existing=True))).scalars())
    await chain.append_many(session, [Change("score.entered", by, AssessmentScore.__table__, row.id) for row in out])
    return out


async def results(session: AsyncSession, campaign_id: uuid.UUID, stage: TestStage) -> list[AssessmentScore]:
    stmt = (
        select(AssessmentScore).join(Candidate, Candidate.id == AssessmentScore.candidate_id)
        .where(Candidate.campaign_id == campaign_id, AssessmentScore.stage == Stage(stage.value))
    )
    return list((await session.execute(stmt)).scalars())


def _unscored(stage: Stage):
    async def check(session: AsyncSession, campaign: Campaign) -> dict[str, int]:
        have = select(AssessmentScore.candidate_id).where(AssessmentScore.stage == stage)
        stmt = nominations.active(campaign.id).where(Candidate.id.not_in(have))
        return {"without_result": await campaigns.count(session, stmt)}

    return check


for _stage in (Stage.iq_test, Stage.written_test):
    campaigns.stage_check(_stage)(_unscored(_stage))

"""The assessment API: staff enter or upload the IQ and written tests' results."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, File, Request, UploadFile
from sqlalchemy import select

from services.selection.assessments import service
from services.selection.assessments.schemas import ScoreIn, ScoreOut, TestStage, UploadReport
from services.selection.assessments.sheets import read_scores
from services.selection.models import AssessmentScore, Candidate, ScoreState, Stage
from services.selection.campaigns import service as campaigns
from services.selection.db import directory
from shared.auth import require
from shared.db import DbSession
from shared.pagination import Page, PageParams, paginate
from shared.problems import language, problem_responses
from shared.routes import UPLOAD_ENVELOPE, APIRouter, body_limit
from shared.sheets import SHEET_PROBLEMS, in_worker, read_upload
from shared.tokens import Principal
from shared.workers import worker_pool

router = APIRouter(tags=["assessments"], lifespan=worker_pool(preload=["services.selection.assessments.sheets"]))

Staff = Annotated[Principal, Depends(require("staff"))]
Reader = Annotated[Principal, Depends(require("admin", "staff", "coordinator", "student", "guardian"))]
OPEN = ("selection_campaign_not_found", "selection_stage_closed")


@router.put(
    "/candidates/{candidate_id}/assessments/{stage}", response_model=ScoreOut,
    responses=problem_responses(
        "selection_candidate_not_found", *OPEN, "selection_candidate_withdrawn", "selection_score_state_mismatch",
        "selection_score_out_of_scale",
    ),
    summary="Enter a candidate's IQ or written test result (a score, absent or exempt)",
)
async def enter_score(
    principal: Staff, candidate_id: uuid.UUID, stage: TestStage, body: ScoreIn, session: DbSession
) -> ScoreOut:
    """While the stage is the campaign's current one and open. Entering it again replaces it;
    every version stays in the record."""
    row = await service.enter(session, principal.id, candidate_id, stage, body)
    return ScoreOut.model_validate(row, from_attributes=True)


@router.post(
    "/campaigns/{campaign_id}/assessments/{stage}/upload", response_model=UploadReport,
    responses=problem_responses(*OPEN, "sheet_rejected", *SHEET_PROBLEMS),
    summary="Upload a test's results as CSV (UTF-8 or GBK) or XLSX: all rows or none",
)
@body_limit(lambda settings: settings.scores_max_bytes + UPLOAD_ENVELOPE)
async def upload_scores(
    principal: Staff, request: Request, campaign_id: uuid.UUID, stage: TestStage, session: DbSession,
    file: Annotated[UploadFile, File(description="Columns: 候选人编号 / candidate_id, 成绩 / score, 状态 / state (blank, 缺考 / absent, 免考 / exempt), 备注 / remark.")],
) -> UploadReport:
    """Any bad row refuses the whole file (422 `sheet_rejected`, every error by line, in
    English and Chinese): fix the file and send it again."""
    settings = request.app.state.settings
    campaign, active = await service.open_for_upload(session, campaign_id, stage)
    data = await read_upload(file, limit=settings.scores_max_bytes)
    low, high = service.scale(campaign, stage)
    sheet = await in_worker(
        request.app.state.workers, read_scores, data, minimum=low, maximum=high, candidates=active,
        max_rows=settings.scores_max_rows, lang=language(request.headers.get("accept-language")),
    )
    sheet.refuse_if_errors()
    rows = [(r["candidate_id"], ScoreState(r["state"]), r["score"], r["remark"]) for r in sheet.rows]
    await service.write(session, principal.id, stage, rows)
    by_state: dict[str, int] = {}
    for _, state, _, _ in rows:
        by_state[state.value] = by_state.get(state.value, 0) + 1
    return UploadReport(taken=len(rows), by_state=by_state)


@router.get(
    "/campaigns/{campaign_id}/assessments/{stage}", response_model=Page[ScoreOut],
    responses=problem_responses("selection_campaign_not_found"),
    summary="List a test's results you may see, by candidate",
)
async def list_scores(
    principal: Reader, campaign_id: uuid.UUID, stage: TestStage, session: DbSession, page: PageParams
) -> Page[ScoreOut]:
    """Staff and admin see all; a coordinator their school's students; a guardian their
    children; a student their own."""
    await campaigns.get(session, campaign_id)
    stmt = (
        select(AssessmentScore).join(Candidate, Candidate.id == AssessmentScore.candidate_id)
        .where(Candidate.campaign_id == campaign_id, AssessmentScore.stage == Stage(stage.value),
               directory.visible(principal, Candidate.student_id))
    )
    found = await paginate(session, stmt, order_by=(AssessmentScore.candidate_id,), params=page)
    return Page(items=[ScoreOut.model_validate(r, from_attributes=True) for r in found.items], next_cursor=found.next_cursor)

"""The experts API: staff register experts; an expert reads their entry and declares their conflicts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Query
from pydantic import ValidationError
from sqlalchemy import select

from services.selection.campaigns import service as campaigns
from services.selection.db import conflicts, directory
from services.selection.models import Candidate, Discipline, Stage
from services.selection.panels import service
from services.selection.panels.models import Expert, InterviewScore, PanelMember
from services.selection.panels.schemas import (
    AdjudicationIn, AdjudicationOut, Assigned, CandidateCorrection, ExpertEffect, ExpertIn, ExpertOut,
    InterviewReport, InterviewScoreOut, Panel, PanelAgreement, PanelChangeIn, PanelsOut, ScoresIn,
)
from shared.auth import require
from shared.conflicts import ConflictIn, ConflictOut
from shared.db import DbSession
from shared.pagination import Page, PageParams, paginate
from shared.problems import ProblemError, problem_responses
from shared.routes import APIRouter
from shared.rubrics import Rubric, RubricShape
from shared.tokens import Principal

router = APIRouter()
experts = APIRouter(prefix="/experts", tags=["experts"])
panels = APIRouter(prefix="/campaigns", tags=["panels"])

Staff = Annotated[Principal, Depends(require("staff"))]
Auditor = Annotated[Principal, Depends(require("admin", "staff"))]
Reader = Annotated[Principal, Depends(require("admin", "staff", "expert"))]
Declarer = Annotated[Principal, Depends(require("staff", "expert"))]


async def experts_out(session, experts: list[Expert]) -> list[ExpertOut]:
    names = await directory.display_names(session, [e.person_id for e in experts])
    return [ExpertOut.model_validate({**{c: getattr(e, c) for c in ExpertOut.model_fields if c != "display_name"},
                                      "display_name": names.get(e.person_id)}) for e in experts]


@experts.put(
    "/{person_id}", response_model=ExpertOut,
    responses=problem_responses("selection_not_an_expert", "selection_discipline_repeated"),
    summary="Register an expert, or change their entry (type, disciplines, affiliation, maximum load)",
)
async def register_expert(principal: Staff, person_id: uuid.UUID, body: ExpertIn, session: DbSession) -> ExpertOut:
    """The person must hold the `expert` role (give it at the gateway first). Their school and
    partner university come from the directory: an expert is never given a candidate of their
    own school."""
    return (await experts_out(session, [await service.register(session, principal, person_id, body)]))[0]


@experts.get("", response_model=Page[ExpertOut], summary="List the registered experts, by id")
async def list_experts(_: Auditor, session: DbSession, page: PageParams) -> Page[ExpertOut]:
    found = await paginate(session, select(Expert), order_by=(Expert.person_id,), params=page)
    return Page(items=await experts_out(session, found.items), next_cursor=found.next_cursor)


@experts.get(
    "/{person_id}", response_model=ExpertOut, responses=problem_responses("selection_expert_not_found"),
    summary="Read an expert's entry (staff, or the expert themself)",
)
async def get_expert(principal: Reader, person_id: uuid.UUID, session: DbSession) -> ExpertOut:
    if not service.may_read(principal, person_id):
        raise ProblemError("selection_expert_not_found", expert_id=person_id)
    return (await experts_out(session, [await service.get(session, person_id)]))[0]


@experts.post(
    "/{person_id}/conflicts", status_code=201, response_model=ConflictOut,
    responses=problem_responses("selection_expert_not_found", "student_not_found", "conflict_reason_required"),
    summary="Declare a conflict of interest with a student (the expert for themself, or staff)",
)
async def declare_conflict(principal: Declarer, person_id: uuid.UUID, body: ConflictIn, session: DbSession) -> ConflictOut:
    """Declaring the same open conflict again answers it as first declared. Conflicts found
    from the directory (the expert's school is the student's, the expert is the student's
    guardian) need no declaration."""
    found = await service.declare(session, principal, person_id, body)
    return ConflictOut.model_validate(found, from_attributes=True)


@experts.get(
    "/{person_id}/conflicts", response_model=list[ConflictOut], responses=problem_responses("selection_expert_not_found"),
    summary="The conflicts declared for an expert, still open (staff, or the expert themself)",
)
async def list_conflicts(principal: Reader, person_id: uuid.UUID, session: DbSession) -> list[ConflictOut]:
    if not service.may_read(principal, person_id):
        raise ProblemError("selection_expert_not_found", expert_id=person_id)
    await service.get(session, person_id)
    return [ConflictOut.model_validate(c, from_attributes=True) for c in await conflicts.declared(session, person_id)]


def panels_out(candidates, result, *, saved: bool) -> PanelsOut:
    discipline = {c.id: c.discipline for c in candidates}
    return PanelsOut(
        saved=saved, panels=[Panel(candidate_id=c, discipline=discipline[c], experts=list(m)) for c, m in result.panels.items()],
        loads={str(e): n for e, n in result.loads.items()}, spread=result.spread, mixed_panels=result.mixed_panels,
        fitting_panels=result.fitting_panels,
    )


ASSIGNING = ("selection_campaign_not_found", "selection_stage_closed", "selection_assignment_infeasible")


@panels.post(
    "/{campaign_id}/panels/preview", response_model=PanelsOut, responses=problem_responses(*ASSIGNING),
    summary="Preview the interview panels: the campaign's panel size of experts per candidate; nothing is stored",
)
async def preview_panels(_: Staff, campaign_id: uuid.UUID, session: DbSession) -> PanelsOut:
    """One min-cost flow: never a conflicted pair, each expert within their maximum load, loads
    as even as the conflicts allow, every panel mixing expert types where the pool allows,
    then experts of the candidate's discipline. An impossible assignment answers
    `selection_assignment_infeasible` naming the constraint (`panel_size`, `capacity`,
    `conflicts`, `capacity_after_conflicts`) and whom it concerns."""
    campaign = await campaigns.get(session, campaign_id)
    campaigns.require_open(campaign, Stage.interview)
    candidates, result = await service.propose(session, campaign)
    return panels_out(candidates, result, saved=False)


@panels.post(
    "/{campaign_id}/panels", response_model=PanelsOut, responses=problem_responses(*ASSIGNING, "selection_scoring_began"),
    summary="Assign the interview panels and store them (in place of an earlier assignment)",
)
async def save_panels(principal: Staff, campaign_id: uuid.UUID, session: DbSession) -> PanelsOut:
    """Computed again in the same transaction, so it holds for the candidates and experts as they
    are now; refused once an expert has scored (`selection_scoring_began`)."""
    candidates, result = await service.save(session, principal, campaign_id)
    return panels_out(candidates, result, saved=True)


@panels.get(
    "/{campaign_id}/panels", response_model=list[Panel], responses=problem_responses("selection_campaign_not_found"),
    summary="The stored interview panels, by candidate",
)
async def list_panels(_: Auditor, campaign_id: uuid.UUID, session: DbSession) -> list[Panel]:
    await campaigns.get(session, campaign_id)
    stored = await service.panels(session, campaign_id)
    found = (await session.execute(select(Candidate.id, Candidate.discipline).where(Candidate.id.in_(list(stored))))).all() if stored else []
    discipline = dict(found)
    return [Panel(candidate_id=c, discipline=discipline[c], experts=m) for c, m in stored.items()]


@panels.post(
    "/{campaign_id}/candidates/{candidate_id}/panel/replacements", response_model=Panel,
    responses=problem_responses(
        "selection_campaign_not_found", "selection_candidate_not_found", "selection_stage_closed", "selection_candidate_withdrawn",
        "selection_not_on_panel", "selection_already_on_panel", "selection_expert_not_found", "selection_expert_inactive",
        "selection_assignment_conflicted", "selection_expert_full",
    ),
    summary="Replace one expert of a candidate's saved panel by another, with the reason (in the record)",
)
async def replace_member(principal: Staff, campaign_id: uuid.UUID, candidate_id: uuid.UUID, body: PanelChangeIn, session: DbSession) -> Panel:
    """Allowed while the interview is open, also after scoring began. The expert who joins must be
    active, without a conflict with the student (declared, or found from the directory) and below
    their maximum load in this campaign. A score the leaving expert gave stays on record but no
    longer counts; the one who joins scores in their place."""
    candidate = await service.candidate_in(session, campaign_id, candidate_id)
    experts_now = await service.replace_member(session, principal, candidate.id, body)
    return Panel(candidate_id=candidate.id, discipline=candidate.discipline, experts=experts_now)




# ---------------------------------------------------------------- rubrics and scoring

scoring = APIRouter(tags=["interviews"])
Expert_ = Annotated[Principal, Depends(require("expert"))]
ScoreReader = Annotated[Principal, Depends(require("admin", "staff", "expert"))]


@scoring.put(
    "/campaigns/{campaign_id}/rubrics/{discipline}", response_model=Rubric,
    responses=problem_responses(
        "selection_campaign_not_found", "selection_discipline_not_offered", "selection_rubric_frozen", "selection_rubric_invalid",
    ),
    summary="Set the interview's rubric for a discipline (until the interview opens)",
)
async def set_rubric(principal: Staff, campaign_id: uuid.UUID, discipline: Discipline, body: RubricShape, session: DbSession) -> Rubric:
    try:
        rubric = Rubric.model_validate(body.model_dump())
    except ValidationError as exc:
        raise ProblemError("selection_rubric_invalid", reason=exc.errors()[0]["msg"]) from None
    row = await service.set_rubric(session, principal, campaign_id, discipline.value, rubric)
    return Rubric.model_validate(row.rubric)


@scoring.get(
    "/campaigns/{campaign_id}/rubrics/{discipline}", response_model=Rubric,
    responses=problem_responses("selection_rubric_missing"), summary="The interview's rubric for a discipline",
)
async def get_rubric(_: ScoreReader, campaign_id: uuid.UUID, discipline: Discipline, session: DbSession) -> Rubric:
    return await service.rubric_of(session, campaign_id, discipline.value)


@scoring.get("/panels/mine", response_model=list[Assigned], summary="The candidates you interview (an expert), by campaign then id")
async def my_candidates(principal: Expert_, session: DbSession) -> list[Assigned]:
    me = uuid.UUID(principal.id)
    rows = (await session.execute(
        select(Candidate, InterviewScore.id).join(PanelMember, PanelMember.candidate_id == Candidate.id)
        .outerjoin(InterviewScore, (InterviewScore.candidate_id == Candidate.id) & (InterviewScore.expert_id == me))
        .where(PanelMember.expert_id == me).order_by(Candidate.campaign_id, Candidate.id)
    )).all()
    names = await directory.display_names(session, [c.student_id for c, _ in rows])
    return [Assigned(candidate_id=c.id, campaign_id=c.campaign_id, discipline=c.discipline, display_name=names.get(c.student_id),
                     submitted=s is not None) for c, s in rows]


@scoring.put(
    "/candidates/{candidate_id}/interview-score", response_model=InterviewScoreOut,
    responses=problem_responses(
        "selection_candidate_not_found", "selection_expert_not_found", "selection_stage_closed", "selection_conflicted",
        "selection_rubric_missing", "selection_rubric_scores_invalid",
    ),
    summary="Score a candidate you interview on the rubric (again to change it, while the interview is open)",
)
async def score(principal: Expert_, candidate_id: uuid.UUID, body: ScoresIn, session: DbSession) -> InterviewScoreOut:
    """A candidate not on your panel is answered 404, as one that does not exist."""
    return InterviewScoreOut.model_validate(await service.score(session, principal, candidate_id, body.scores), from_attributes=True)


@scoring.get(
    "/candidates/{candidate_id}/interview-scores", response_model=list[InterviewScoreOut],
    responses=problem_responses("selection_candidate_not_found", "selection_scores_hidden"),
    summary="A candidate's interview scores: staff always, a panel member once they have submitted their own",
)
async def candidate_scores(principal: ScoreReader, candidate_id: uuid.UUID, session: DbSession) -> list[InterviewScoreOut]:
    return [InterviewScoreOut.model_validate(r, from_attributes=True) for r in await service.scores_of(session, principal, candidate_id)]


@scoring.put(
    "/candidates/{candidate_id}/adjudication", response_model=AdjudicationOut,
    responses=problem_responses("selection_candidate_not_found", "selection_stage_closed", "selection_not_flagged"),
    summary="Rule on a candidate whose panel disagreed: the panel's corrected score stands, or staff set the interview score",
)
async def adjudicate(principal: Staff, candidate_id: uuid.UUID, body: AdjudicationIn, session: DbSession) -> AdjudicationOut:
    """Only for a candidate flagged at the default threshold (the interview report's `flagged`),
    while the interview is open; ruling again replaces the ruling. The interview stage is
    complete only when every flagged candidate has a ruling. Each ruling is in the record."""
    return AdjudicationOut.model_validate(await service.adjudicate(session, principal, candidate_id, body), from_attributes=True)


@scoring.get(
    "/campaigns/{campaign_id}/interview-report", response_model=InterviewReport,
    responses=problem_responses("selection_campaign_not_found"),
    summary="The rater-effects fit, each expert's severity, each candidate's correction, and the panels' agreement",
)
async def interview_report(
    _: Auditor, campaign_id: uuid.UUID, session: DbSession,
    threshold: Annotated[float, Query(gt=0, le=100, description="Flag a candidate whose totals differ by more than this (0-100).")] = service.DISAGREEMENT,
) -> InterviewReport:
    await campaigns.get(session, campaign_id)
    found = await service.report(session, campaign_id, threshold)
    fit, ruled = found["fit"], found["adjudications"]
    return InterviewReport(
        scores=sum(found["by_expert"].values()), residual_sd=fit.residual_sd, r_squared=fit.r_squared, components=fit.components,
        experts=[ExpertEffect(expert_id=e, severity=fit.severity[e], severity_se=fit.severity_se.get(e), scores=n)
                 for e, n in sorted(found["by_expert"].items())],
        candidates=[CandidateCorrection(candidate_id=c, raw_mean=sum(t) / len(t), corrected=fit.corrected[c],
                                        correction=fit.corrected[c] - sum(t) / len(t), raters=len(t), flagged=c in found["flagged"],
                                        adjudicated=c in ruled,
                                        adjudicated_score=None if c not in ruled or ruled[c].score is None else float(ruled[c].score))
                    for c, t in sorted(found["by_candidate"].items())],
        alpha=found["alpha"], alpha_by_discipline=found["alpha_by_discipline"], threshold=threshold,
        alpha_by_panel=[PanelAgreement(**p) for p in found["alpha_by_panel"]], unadjudicated=len(found["unadjudicated"]),
    )


router.include_router(experts)
router.include_router(panels)
router.include_router(scoring)

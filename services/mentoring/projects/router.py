"""The projects API: research projects, their milestones and submissions, and their defenses (项目答辩)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.mentoring.projects import service
from services.mentoring.projects.models import Defense, Milestone, Project, Submission
from services.mentoring.projects.schemas import (
    DecisionIn, DefenseIn, DefenseOut, MilestoneChange, MilestoneIn, MilestoneOut, PanelIn, ProjectIn, ProjectOut, ReviewIn,
    ScoreOut, ScoresIn, SubmissionIn, SubmissionOut,
)
from shared.auth import require
from shared.db import DbSession
from shared.idempotency import IdempotencyKey
from shared.pagination import Page, PageParams, paginate
from shared.problems import ProblemError, problem_responses
from shared.routes import APIRouter
from shared.tokens import Principal

router = APIRouter(tags=["projects"])

Staff = Annotated[Principal, Depends(require("staff"))]
Manager = Annotated[Principal, Depends(require("staff", "mentor"))]
Mentor = Annotated[Principal, Depends(require("mentor"))]
Student = Annotated[Principal, Depends(require("student"))]
ScoreReader = Annotated[Principal, Depends(require("admin", "staff", "mentor"))]
Reader = Annotated[Principal, Depends(require("admin", "staff", "mentor", "coordinator", "student", "guardian"))]

READERS = "staff, the mentor, the members, their guardians and coordinators"


async def _projects_out(session: AsyncSession, projects: Sequence[Project]) -> list[ProjectOut]:
    members = await service.members_of(session, [p.id for p in projects])
    return [ProjectOut(id=p.id, title=p.title, abstract=p.abstract, discipline=p.discipline, mentor_id=p.mentor_id,
                       members=members[p.id], created_at=p.created_at) for p in projects]


@router.post(
    "/projects", status_code=201, response_model=ProjectOut,
    responses=problem_responses("mentoring_mentor_not_found", "mentoring_member_repeated", "mentoring_member_not_mentee"),
    summary="Start a research project (a lab mentor for their own mentees; staff for any mentor)",
)
async def create_project(principal: Manager, body: ProjectIn, session: DbSession, idempotency: IdempotencyKey) -> ProjectOut:
    """1 to 6 members, each with an open (active or paused) lab mentorship with the mentor in the
    project's discipline; the first that has none is named."""
    return await idempotency.save((await _projects_out(session, [await service.create(session, principal, body)]))[0])


@router.get("/projects", response_model=Page[ProjectOut],
            summary=f"The research projects you may read ({READERS}; a judge those they judge), newest first")
async def list_projects(principal: Reader, session: DbSession, page: PageParams) -> Page[ProjectOut]:
    stmt = select(Project).where(service.visible_projects(principal))
    found = await paginate(session, stmt, order_by=(Project.created_at.desc(), Project.id), params=page)
    return Page(items=await _projects_out(session, found.items), next_cursor=found.next_cursor)


@router.get("/projects/{project_id}", response_model=ProjectOut, responses=problem_responses("mentoring_project_not_found"),
            summary=f"A research project ({READERS}; a judge of its defense)")
async def get_project(principal: Reader, project_id: uuid.UUID, session: DbSession) -> ProjectOut:
    return (await _projects_out(session, [await service.get_project(session, principal, project_id)]))[0]


# ---------------------------------------------------------------- milestones and submissions


@router.post(
    "/projects/{project_id}/milestones", status_code=201, response_model=MilestoneOut,
    responses=problem_responses("mentoring_project_not_found", "mentoring_due_date_past"),
    summary="Set a milestone of a project with its due date (the project's mentor, staff); its reminder is a timer",
)
async def add_milestone(principal: Manager, project_id: uuid.UUID, body: MilestoneIn, session: DbSession,
                        idempotency: IdempotencyKey) -> MilestoneOut:
    """The reminder (`mentoring.milestone.due`) goes out 72 hours before the due date, or at once when nearer."""
    row = await service.add_milestone(session, principal, project_id, body)
    return await idempotency.save(MilestoneOut.model_validate(row, from_attributes=True))


@router.get("/projects/{project_id}/milestones", response_model=Page[MilestoneOut],
            responses=problem_responses("mentoring_project_not_found"),
            summary=f"A project's milestones by due date ({READERS}; empty for anyone else)")
async def list_milestones(principal: Reader, project_id: uuid.UUID, session: DbSession, page: PageParams) -> Page[MilestoneOut]:
    if await session.get(Project, project_id) is None:
        raise ProblemError("mentoring_project_not_found", project_id=project_id)
    stmt = select(Milestone).join(Project, Project.id == Milestone.project_id).where(
        Milestone.project_id == project_id, service.insiders(principal))
    found = await paginate(session, stmt, order_by=(Milestone.due_at, Milestone.id), params=page)
    return Page(items=[MilestoneOut.model_validate(m, from_attributes=True) for m in found.items], next_cursor=found.next_cursor)


@router.patch(
    "/milestones/{milestone_id}", response_model=MilestoneOut,
    responses=problem_responses("mentoring_milestone_not_found", "mentoring_due_date_past"),
    summary="Change a milestone (the project's mentor, staff); a new due date sets a new reminder and the old one lapses",
)
async def change_milestone(principal: Manager, milestone_id: uuid.UUID, body: MilestoneChange, session: DbSession) -> MilestoneOut:
    return MilestoneOut.model_validate(await service.change_milestone(session, principal, milestone_id, body), from_attributes=True)


def _submission_out(row: Submission, latest: dict[uuid.UUID, int]) -> SubmissionOut:
    return SubmissionOut(id=row.id, milestone_id=row.milestone_id, student_id=row.student_id, text=row.text, link=row.link,
                         late=row.late, latest=latest.get(row.milestone_id) == row.number, submitted_at=row.submitted_at,
                         review=row.review, review_note=row.review_note, reviewed_at=row.reviewed_at)


@router.post(
    "/milestones/{milestone_id}/submissions", status_code=201, response_model=SubmissionOut,
    responses=problem_responses("mentoring_milestone_not_found"),
    summary="Hand in work for a milestone (a member of the project); every submission is kept, the latest counts",
)
async def submit(principal: Student, milestone_id: uuid.UUID, body: SubmissionIn, session: DbSession,
                 idempotency: IdempotencyKey) -> SubmissionOut:
    """A text and optionally an https link. After the due date it is marked late."""
    row = await service.submit(session, principal, milestone_id, body)
    return await idempotency.save(_submission_out(row, {row.milestone_id: row.number}))


@router.get("/milestones/{milestone_id}/submissions", response_model=Page[SubmissionOut],
            responses=problem_responses("mentoring_milestone_not_found"),
            summary=f"A milestone's submissions, latest first ({READERS}; empty for anyone else)")
async def list_submissions(principal: Reader, milestone_id: uuid.UUID, session: DbSession, page: PageParams) -> Page[SubmissionOut]:
    if await session.get(Milestone, milestone_id) is None:
        raise ProblemError("mentoring_milestone_not_found", milestone_id=milestone_id)
    stmt = select(Submission).join(Milestone, Milestone.id == Submission.milestone_id).join(Project, Project.id == Milestone.project_id).where(
        Submission.milestone_id == milestone_id, service.insiders(principal))
    found = await paginate(session, stmt, order_by=(Submission.number.desc(),), params=page)
    latest = await service.latest_numbers(session, [milestone_id])
    return Page(items=[_submission_out(s, latest) for s in found.items], next_cursor=found.next_cursor)


@router.put(
    "/submissions/{submission_id}/review", response_model=SubmissionOut,
    responses=problem_responses("mentoring_submission_not_found", "mentoring_submission_superseded"),
    summary="Review a milestone's latest submission: accepted or needs revision, with a note (the project's mentor)",
)
async def review(principal: Mentor, submission_id: uuid.UUID, body: ReviewIn, session: DbSession) -> SubmissionOut:
    """Again to change the review; an earlier submission than the latest is refused."""
    row = await service.review(session, principal, submission_id, body.review, body.note)
    return _submission_out(row, {row.milestone_id: row.number})


# ---------------------------------------------------------------- defenses


async def _defenses_out(session: AsyncSession, principal: Principal, defenses: Sequence[Defense]) -> list[DefenseOut]:
    ids = [d.id for d in defenses]
    judges = await service.judges_of(session, ids)
    insiders = await service.insider_defenses(session, principal, ids)
    return [DefenseOut(
        id=d.id, project_id=d.project_id, starts_at=d.starts_at, place=d.place, rubric=d.rubric, pass_mark=float(d.pass_mark),
        judges=judges[d.id], scheduled_at=d.scheduled_at, result=d.result, score=None if d.score is None else float(d.score),
        # Staff's note is about the students: only for who may see their records, not a judge from outside.
        note=d.note if d.id in insiders else None, decided_at=d.decided_at,
    ) for d in defenses]


@router.post(
    "/projects/{project_id}/defenses", status_code=201, response_model=DefenseOut,
    responses=problem_responses("mentoring_project_not_found", "mentoring_defense_time_past", "mentoring_rubric_invalid",
                                "mentoring_defense_pending"),
    summary="Schedule a project's defense: time, place, the rubric and the pass mark (staff)",
)
async def schedule_defense(principal: Staff, project_id: uuid.UUID, body: DefenseIn, session: DbSession,
                           idempotency: IdempotencyKey) -> DefenseOut:
    """One undecided defense per project at a time. The pass mark is on the mean of the judges'
    weighted totals (0-100). Name or propose the panel next (`PUT /defenses/{id}/panel`)."""
    defense = await service.schedule(session, principal, project_id, body)
    return await idempotency.save((await _defenses_out(session, principal, [defense]))[0])


@router.get("/defenses", response_model=Page[DefenseOut],
            summary=f"The defenses you may read ({READERS}; a judge those they sit on), soonest first")
async def list_defenses(principal: Reader, session: DbSession, page: PageParams) -> Page[DefenseOut]:
    stmt = select(Defense).where(service.visible_defenses(principal))
    found = await paginate(session, stmt, order_by=(Defense.starts_at, Defense.id), params=page)
    return Page(items=await _defenses_out(session, principal, found.items), next_cursor=found.next_cursor)


@router.get("/defenses/{defense_id}", response_model=DefenseOut, responses=problem_responses("mentoring_defense_not_found"),
            summary=f"A defense, with its result once decided ({READERS}; its judges)")
async def get_defense(principal: Reader, defense_id: uuid.UUID, session: DbSession) -> DefenseOut:
    return (await _defenses_out(session, principal, [await service.get_defense(session, principal, defense_id)]))[0]


@router.put(
    "/defenses/{defense_id}/panel", response_model=DefenseOut,
    responses=problem_responses("mentoring_panel_one_way", "mentoring_defense_not_found", "mentoring_defense_decided", "mentoring_defense_scoring_began",
                                "mentoring_judge_repeated", "mentoring_judge_not_eligible", "mentoring_judge_conflicted",
                                "mentoring_panel_infeasible"),
    summary="Name a defense's 3 to 7 judges, or have a panel of `size` proposed (staff); until a judge has scored",
)
async def set_panel(principal: Staff, defense_id: uuid.UUID, body: PanelIn, session: DbSession) -> DefenseOut:
    """Each judge a registered, active mentor, not the project's own, with no conflict of interest
    with any member (the first refusal is named). A proposed panel is load-balanced over the
    mentors' seats on undecided defenses and never conflicted. Replaces the last panel."""
    return (await _defenses_out(session, principal, [await service.set_panel(session, principal, defense_id, body)]))[0]


@router.put(
    "/defenses/{defense_id}/scores", response_model=ScoreOut,
    responses=problem_responses("mentoring_not_a_judge", "mentoring_defense_not_started", "mentoring_defense_decided",
                                "mentoring_judge_conflicted", "mentoring_defense_scores_invalid"),
    summary="Score a defense you judge on its rubric (a judge), once it has begun; again to change it, until the defense is decided",
)
async def score_defense(principal: Mentor, defense_id: uuid.UUID, body: ScoresIn, session: DbSession) -> ScoreOut:
    """Every criterion of the rubric, on its scale; every problem is answered at once in `errors`."""
    return ScoreOut.model_validate(await service.score(session, principal, defense_id, body.scores), from_attributes=True)


@router.get(
    "/defenses/{defense_id}/scores", response_model=list[ScoreOut], responses=problem_responses("mentoring_defense_not_found", "mentoring_not_a_judge"),
    summary="A defense's scores: staff every judge's; a judge their own until the decision, every judge's after",
)
async def defense_scores(principal: ScoreReader, defense_id: uuid.UUID, session: DbSession) -> list[ScoreOut]:
    return [ScoreOut.model_validate(s, from_attributes=True) for s in await service.scores_of(session, principal, defense_id)]


@router.post(
    "/defenses/{defense_id}/decision", response_model=DefenseOut,
    responses=problem_responses("mentoring_defense_not_found", "mentoring_defense_decided", "mentoring_panel_missing",
                                "mentoring_defense_scores_missing"),
    summary="Decide a defense once every judge has scored: the mean total against the pass mark (staff); once",
)
async def decide_defense(principal: Staff, defense_id: uuid.UUID, body: DecisionIn, session: DbSession) -> DefenseOut:
    """Passed when the mean of the judges' weighted totals reaches the pass mark. Announced as
    `mentoring.defense.completed` in the same transaction; deciding again is refused
    (`mentoring_defense_decided`)."""
    return (await _defenses_out(session, principal, [await service.decide(session, principal, defense_id, body.note)]))[0]

"""The mentorships API: read them, pause and resume, requests to end or re-match, meetings, goals and their progress."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.mentoring.db import directory
from services.mentoring.mentorships import service
from services.mentoring.mentorships.models import Goal, GoalUpdate, Meeting, MentorshipRequest
from services.mentoring.mentorships.schemas import (
    DecisionIn, GoalIn, GoalOut, GoalUpdateOut, MeetingIn, MeetingOut, MeetingPatch, MentorshipOut, PauseOut, PendingRequest, ProgressIn, ReasonIn,
    RequestIn, RequestOut,
)
from services.mentoring.models import Mentorship, MentorshipStatus, NeedKind
from shared.auth import require
from shared.db import DbSession
from shared.idempotency import IdempotencyKey
from shared.pagination import Page, PageParams, paginate
from shared.problems import problem_responses
from shared.routes import APIRouter
from shared.tokens import Principal

router = APIRouter(prefix="/mentorships", tags=["mentorships"])
T = TypeVar("T", bound=BaseModel)

Reader = Annotated[Principal, Depends(require("admin", "staff", "mentor", "coordinator", "student", "guardian"))]
Keeper = Annotated[Principal, Depends(require("staff", "mentor"))]
Asker = Annotated[Principal, Depends(require("student", "guardian", "mentor"))]
Staff = Annotated[Principal, Depends(require("staff"))]
Party = Annotated[Principal, Depends(require("mentor", "student"))]

NOT_FOUND = ("mentoring_mentorship_not_found",)
ENDED = ("mentoring_mentorship_not_found", "mentoring_mentorship_ended")


async def mentorships_out(session: AsyncSession, principal: Principal, found: list[Mentorship]) -> list[MentorshipOut]:
    names = await directory.display_names(session, {*(m.student_id for m in found), *(m.mentor_id for m in found)})
    pending = await service.pending_requests(session, [m.id for m in found])
    pauses = await service.open_pauses(session, [m.id for m in found if m.status is MentorshipStatus.paused])
    reads = await service.note_reader(session, principal)

    def paused(m: Mentorship) -> PauseOut | None:
        p = pauses.get(m.id)
        return PauseOut(since=p.paused_at, by=p.paused_by, reason=p.reason if reads(m) else None) if p else None

    return [MentorshipOut.model_validate({
        **{c: getattr(m, c) for c in MentorshipOut.model_fields if c not in ("student_name", "mentor_name", "pending_request", "paused")},
        "student_name": names.get(m.student_id), "mentor_name": names.get(m.mentor_id),
        "pending_request": PendingRequest.model_validate(pending[m.id], from_attributes=True) if m.id in pending else None,
        "paused": paused(m),
    }) for m in found]


@router.get("", response_model=Page[MentorshipOut],
            summary="List mentorships, oldest first: staff and admin all; a mentor their own, a student their own, a guardian their child's, a coordinator their school's")
async def list_mentorships(
    principal: Reader, session: DbSession, page: PageParams, kind: NeedKind | None = None, status: MentorshipStatus | None = None,
    student_id: uuid.UUID | None = None, mentor_id: uuid.UUID | None = None,
    pending_request: Annotated[bool | None, Query(description="true: only those with a request waiting for staff (their work list); false: none waiting.")] = None,
) -> Page[MentorshipOut]:
    stmt = service.mentorships_query(principal, kind=kind, status=status, student_id=student_id, mentor_id=mentor_id,
                                     pending_request=pending_request)
    found = await paginate(session, stmt, order_by=(Mentorship.started_at, Mentorship.id), params=page)
    return Page(items=await mentorships_out(session, principal, found.items), next_cursor=found.next_cursor)


@router.get("/{mentorship_id}", response_model=MentorshipOut, responses=problem_responses(*NOT_FOUND),
            summary="Read a mentorship (whoever may list it)")
async def get_mentorship(principal: Reader, mentorship_id: uuid.UUID, session: DbSession) -> MentorshipOut:
    return (await mentorships_out(session, principal, [await service.readable(session, principal, mentorship_id)]))[0]


@router.post("/{mentorship_id}/pause", response_model=MentorshipOut,
             responses=problem_responses(*ENDED, "mentoring_mentorship_not_active"),
             summary="Pause an active mentorship with a reason (staff, or its mentor); the mentor's place is kept")
async def pause(principal: Keeper, mentorship_id: uuid.UUID, body: ReasonIn, session: DbSession) -> MentorshipOut:
    """Its `paused` says since when and why (the reason: staff, the two and the guardian); resume
    it with `.../resume`. Meetings may still be logged; goals wait for it to resume. Ended is final."""
    return (await mentorships_out(session, principal, [await service.pause(session, principal, mentorship_id, body.reason)]))[0]


@router.post("/{mentorship_id}/resume", response_model=MentorshipOut,
             responses=problem_responses(*ENDED, "mentoring_mentorship_not_paused"),
             summary="Resume a paused mentorship with a reason (staff, or its mentor)")
async def resume(principal: Keeper, mentorship_id: uuid.UUID, body: ReasonIn, session: DbSession) -> MentorshipOut:
    return (await mentorships_out(session, principal, [await service.resume(session, principal, mentorship_id, body.reason)]))[0]


async def _with_notes(session: AsyncSession, principal: Principal, m: Mentorship, model: type[T], rows: list[Any],
                      notes: tuple[str, ...]) -> list[T]:
    """`rows` as `model`, their free-text fields `notes` null for a caller who may not read them (service.reads_notes)."""
    hidden = {} if await service.reads_notes(session, principal, m) else dict.fromkeys(notes)
    return [model.model_validate({**{c: getattr(r, c) for c in model.model_fields}, **hidden}) for r in rows]


async def _request_out(session: AsyncSession, principal: Principal, m: Mentorship, rows: list[MentorshipRequest]) -> list[RequestOut]:
    return await _with_notes(session, principal, m, RequestOut, rows, ("reason", "note"))


@router.post("/{mentorship_id}/requests", status_code=201, response_model=RequestOut,
             responses=problem_responses(*ENDED, "mentoring_request_pending"),
             summary="Ask to end the mentorship or be re-matched, with a reason (its student, their guardian, or its mentor)")
async def make_request(principal: Asker, mentorship_id: uuid.UUID, body: RequestIn, session: DbSession,
                       idempotency: IdempotencyKey) -> RequestOut:
    """One pending request per mentorship: another while one waits is refused with
    `mentoring_request_pending` (a retry with the same `Idempotency-Key` answers the first).
    Staff approve or decline it (`.../decision`)."""
    row = await service.make_request(session, principal, mentorship_id, body.kind, body.reason)
    return await idempotency.save((await _request_out(session, principal, await service.readable(session, principal, mentorship_id), [row]))[0])


@router.get("/{mentorship_id}/requests", response_model=Page[RequestOut], responses=problem_responses(*NOT_FOUND),
            summary="A mentorship's requests, oldest first (whoever may read it; reasons and notes: staff, the two and the guardian)")
async def list_requests(principal: Reader, mentorship_id: uuid.UUID, session: DbSession, page: PageParams) -> Page[RequestOut]:
    m = await service.readable(session, principal, mentorship_id)
    stmt = select(MentorshipRequest).where(MentorshipRequest.mentorship_id == m.id)
    found = await paginate(session, stmt, order_by=(MentorshipRequest.requested_at, MentorshipRequest.id), params=page)
    return Page(items=await _request_out(session, principal, m, found.items), next_cursor=found.next_cursor)


@router.post("/{mentorship_id}/requests/{request_id}/decision", response_model=RequestOut,
             responses=problem_responses(*NOT_FOUND, "mentoring_request_not_found", "mentoring_request_decided"),
             summary="Approve or decline a pending request with a note (staff); approving ends the mentorship")
async def decide_request(principal: Staff, mentorship_id: uuid.UUID, request_id: uuid.UUID, body: DecisionIn, session: DbSession) -> RequestOut:
    """Once: a decided request answers `mentoring_request_decided`. Approving ends the
    mentorship (announced as `mentoring.mentorship.ended`), frees the mentor's place and leaves
    the student's need waiting for the next round's run; after a re-match request that run,
    and every later one, never pairs the two again."""
    row = await service.decide(session, principal, mentorship_id, request_id, approve=body.outcome == "approved", note=body.note)
    return (await _request_out(session, principal, await service.readable(session, principal, mentorship_id), [row]))[0]


async def _meetings_out(session: AsyncSession, principal: Principal, m: Mentorship, rows: list[Meeting]) -> list[MeetingOut]:
    return await _with_notes(session, principal, m, MeetingOut, rows, ("notes",))


MEETING_PROBLEMS = (*ENDED, "mentoring_meeting_date_invalid")


@router.post("/{mentorship_id}/meetings", status_code=201, response_model=MeetingOut, responses=problem_responses(*MEETING_PROBLEMS),
             summary="Log a meeting (the mentorship's mentor or its student)")
async def log_meeting(principal: Party, mentorship_id: uuid.UUID, body: MeetingIn, session: DbSession,
                      idempotency: IdempotencyKey) -> MeetingOut:
    """Not in the future, not before the mentorship began, not on an ended mentorship. The notes
    are read by the two, the student's guardian and staff only. Send an `Idempotency-Key` so a
    retry does not log the meeting twice."""
    row = await service.log_meeting(session, principal, mentorship_id, body)
    return await idempotency.save((await _meetings_out(session, principal, await service.readable(session, principal, mentorship_id), [row]))[0])


@router.patch("/{mentorship_id}/meetings/{meeting_id}", response_model=MeetingOut,
              responses=problem_responses(*MEETING_PROBLEMS, "mentoring_meeting_not_found", "mentoring_meeting_not_author"),
              summary="Correct a meeting (whoever logged it)")
async def correct_meeting(principal: Party, mentorship_id: uuid.UUID, meeting_id: uuid.UUID, body: MeetingPatch,
                          session: DbSession) -> MeetingOut:
    row = await service.correct_meeting(session, principal, mentorship_id, meeting_id, body)
    return (await _meetings_out(session, principal, await service.readable(session, principal, mentorship_id), [row]))[0]


@router.get("/{mentorship_id}/meetings", response_model=Page[MeetingOut], responses=problem_responses(*NOT_FOUND),
            summary="A mentorship's meetings, latest first (whoever may read it; the notes: staff, the two and the guardian)")
async def list_meetings(principal: Reader, mentorship_id: uuid.UUID, session: DbSession, page: PageParams) -> Page[MeetingOut]:
    m = await service.readable(session, principal, mentorship_id)
    found = await paginate(session, select(Meeting).where(Meeting.mentorship_id == m.id),
                           order_by=(Meeting.held_on.desc(), Meeting.id.desc()), params=page)
    return Page(items=await _meetings_out(session, principal, m, found.items), next_cursor=found.next_cursor)


GOAL_PROBLEMS = (*ENDED, "mentoring_mentorship_not_active", "mentoring_goal_invalid")


@router.post("/{mentorship_id}/goals", status_code=201, response_model=GoalOut, responses=problem_responses(*GOAL_PROBLEMS),
             summary="Set a goal on an active mentorship (its mentor or its student)")
async def set_goal(principal: Party, mentorship_id: uuid.UUID, body: GoalIn, session: DbSession, idempotency: IdempotencyKey) -> GoalOut:
    return await idempotency.save(GoalOut.model_validate(await service.set_goal(session, principal, mentorship_id, body), from_attributes=True))


@router.get("/{mentorship_id}/goals", response_model=Page[GoalOut], responses=problem_responses(*NOT_FOUND),
            summary="A mentorship's goals, in the order set (whoever may read it)")
async def list_goals(principal: Reader, mentorship_id: uuid.UUID, session: DbSession, page: PageParams) -> Page[GoalOut]:
    m = await service.readable(session, principal, mentorship_id)
    return await paginate(session, select(Goal).where(Goal.mentorship_id == m.id), order_by=(Goal.created_at, Goal.id), params=page,
                          item=lambda g: GoalOut.model_validate(g, from_attributes=True))


@router.post("/{mentorship_id}/goals/{goal_id}/progress", response_model=GoalOut,
             responses=problem_responses(*GOAL_PROBLEMS, "mentoring_goal_not_found", "mentoring_goal_closed"),
             summary="Update a goal's progress with a note, or mark it achieved or dropped (the mentorship's mentor or its student)")
async def update_goal(principal: Party, mentorship_id: uuid.UUID, goal_id: uuid.UUID, body: ProgressIn, session: DbSession) -> GoalOut:
    """Each update is kept (`.../progress` lists them); achieved needs 100 percent; an achieved
    or dropped goal takes no more updates (`mentoring_goal_closed`)."""
    return GoalOut.model_validate(await service.update_goal(session, principal, mentorship_id, goal_id, body), from_attributes=True)


@router.get("/{mentorship_id}/goals/{goal_id}/progress", response_model=Page[GoalUpdateOut],
            responses=problem_responses(*NOT_FOUND, "mentoring_goal_not_found"),
            summary="A goal's progress updates, oldest first (whoever may read the mentorship; the notes: staff, the two and the guardian)")
async def list_progress(principal: Reader, mentorship_id: uuid.UUID, goal_id: uuid.UUID, session: DbSession,
                        page: PageParams) -> Page[GoalUpdateOut]:
    m = await service.readable(session, principal, mentorship_id)
    goal = await service.goal_of(session, m, goal_id)
    found = await paginate(session, select(GoalUpdate).where(GoalUpdate.goal_id == goal.id), order_by=(GoalUpdate.made_at, GoalUpdate.id),
                           params=page)
    return Page(items=await _with_notes(session, principal, m, GoalUpdateOut, found.items, ("note",)), next_cursor=found.next_cursor)

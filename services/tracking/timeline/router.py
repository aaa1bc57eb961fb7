"""The timeline API: one student's history from every service, in the order things happened."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends
from sqlalchemy import select

from services.tracking.timeline.models import TimelineEntry
from services.tracking.timeline.schemas import TimelineEntryOut
from services.tracking.timeline.service import may_see
from shared.auth import require
from shared.db import DbSession
from shared.pagination import Page, PageParams, paginate
from shared.problems import ProblemError, problem_responses
from shared.routes import APIRouter
from shared.tokens import Principal

router = APIRouter(prefix="/students", tags=["timeline"])

# Staff and admin every student; a coordinator their school's; a mentor their current mentees; a
# guardian their children; a student themself.
Reader = Annotated[Principal, Depends(require("admin", "staff", "coordinator", "mentor", "student", "guardian"))]


@router.get(
    "/{student_id}/timeline", response_model=Page[TimelineEntryOut], responses=problem_responses("student_not_found"),
    summary="A student's timeline, oldest first: admission, mentors, courses, grade skips, defenses, the school years "
            "(the student, their guardians, their mentors, their school's coordinator, staff and admin)",
)
async def timeline(principal: Reader, student_id: uuid.UUID, session: DbSession, page: PageParams) -> Page[TimelineEntryOut]:
    """Ordered by when each thing happened (then by event id), whatever order the events arrived in."""
    if not await may_see(session, principal, student_id):
        raise ProblemError("student_not_found", student_id=student_id)
    stmt = select(TimelineEntry).where(TimelineEntry.student_id == student_id)
    found = await paginate(session, stmt, order_by=(TimelineEntry.occurred_at, TimelineEntry.event_id), params=page)
    return Page(items=[TimelineEntryOut.model_validate({c: getattr(r, c) for c in TimelineEntryOut.model_fields}) for r in found.items],
                next_cursor=found.next_cursor)

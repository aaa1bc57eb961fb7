"""Every end of a mentorship, recorded and announced once, whatever ended it: an approved request or the student's exit.

Kept apart from the mentorships service so that the exit handler (services/mentoring/mentors/)
and the request decisions share it without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.mentoring.db import chain
from services.mentoring.mentorships.models import MentorshipPause, MentorshipRequest, RequestStatus
from services.mentoring.models import Mentorship
from shared import clock
from shared.chain import Change
from shared.events.bus import Outgoing, publish_many
from shared.events.contracts.mentoring import SOURCE, MentorshipEnded

EndedBy = Literal["end_request", "rematch_request", "exited"]


async def record_ended(session: AsyncSession, ended: Sequence[Any], *, reason: EndedBy, actor: str,
                       payload: Mapping[str, Any] | None = None) -> None:
    """The mentorships `ended` in this transaction (rows with id, student_id, mentor_id, kind,
    discipline, ended_at): each in the chain, any request still pending on it lapsed, its pause (if
    paused) closed, and each
    published as `mentoring.mentorship.ended`, all in the caller's transaction. The caller ends
    only open mentorships, so a redelivered exit finds none and announces nothing."""
    if not ended:
        return
    ids, now = [m.id for m in ended], clock.now()
    lapsed = list((await session.execute(
        update(MentorshipRequest).where(MentorshipRequest.mentorship_id.in_(ids), MentorshipRequest.status == RequestStatus.pending)
        .values(status=RequestStatus.lapsed, decided_by=actor, decided_at=now).returning(MentorshipRequest.id)
    )).scalars())
    closed = list((await session.execute(
        update(MentorshipPause).where(MentorshipPause.mentorship_id.in_(ids), MentorshipPause.resumed_at.is_(None))
        .values(resumed_by=actor, resumed_at=now, resume_reason="the mentorship ended").returning(MentorshipPause.id)
    )).scalars())
    await chain.append_many(session, [
        *(Change("mentorship.ended", actor, Mentorship.__table__, m.id, payload) for m in ended),
        *(Change("mentorship_request.lapsed", actor, MentorshipRequest.__table__, i) for i in lapsed),
        *(Change("mentorship_pause.ended", actor, MentorshipPause.__table__, i) for i in closed),
    ])
    await publish_many(session, (Outgoing(type="mentoring.mentorship.ended", subject=m.student_id, payload=MentorshipEnded(
        mentorship_id=m.id, student_id=m.student_id, mentor_id=m.mentor_id, kind=m.kind.value,
        discipline=m.discipline.value if m.discipline else None, ended_at=m.ended_at, reason=reason,
    )) for m in ended), source=SOURCE)

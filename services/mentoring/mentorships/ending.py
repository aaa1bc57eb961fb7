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
from services.mentoring.mentorships.models import MentorshipRequest, RequestStatus
from services.mentoring.models import Mentorship
from shared import clock
from shared.chain import Change
from shared.events.bus import Outgoing, publish_many
from shared.events.contracts.mentoring import SOURCE, MentorshipEnded

EndedBy = Literal["end_request", "rematch_request", "exited"]


async def record_ended(session: AsyncSession, ended: Sequence[Any], *, reason: EndedBy, actor: str,
                       payload: Mapping[str, Any] | None = None) -> None:
    """The mentorships `ended` in this transaction (rows with id, student_id, mentor_id, kind,
    discipline, ended_at): each in the chain, any request still pending on it lapsed, and each
    published as `mentoring.mentorship.ended`, all in the caller's transaction. The caller ends
    only open mentorships, so a redelivered exit finds none and announces nothing."""
    if not ended:
        return
    lapsed = list((await session.execute(
        update(MentorshipRequest).where(MentorshipRequest.mentorship_id.in_([m.id for m in ended]),
                                        MentorshipRequest.status == RequestStatus.pending)
        .values(status=RequestStatus.lapsed, decided_by=actor, decided_at=clock.now()).returning(MentorshipRequest.id)
    )).scalars())
    await chain.append_many(session, [
        *(Change("mentorship.ended", actor, Mentorship.__table__, m.id, payload) for m in ended),
        *(Change("mentorship_request.lapsed", actor, MentorshipRequest.__table__, i) for i in lapsed),
    ])
    await publish_many(session, (Outgoing(type="mentoring.mentorship.ended", subject=m.student_id, payload=MentorshipEnded(
        mentorship_id=m.id, student_id=m.student_id, mentor_id=m.mentor_id, kind=m.kind.value,
        discipline=m.discipline.value if m.discipline else None, ended_at=m.ended_at, reason=reason,
    )) for m in ended), source=SOURCE)

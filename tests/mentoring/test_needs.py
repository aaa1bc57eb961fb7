"""Who needs a mentor: an admission opens a lab need in its discipline and one life need, an exit
closes them and ends the mentorships; each handler is safe to run again, even late; every
list shows only the caller's rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from services.mentoring.db import chain
from services.mentoring.mentors import service
from services.mentoring.models import Mentorship, Need
from shared.events.contracts.tracking import StudentExited
from shared.events.worker import EventEnvelope
from tests.matrix.world import admitted_envelope
from tests.mentoring.support import call


def exited_envelope(student_id: str, at: datetime | None = None) -> EventEnvelope:
    at = at or datetime.now(UTC)
    return EventEnvelope(
        event_id=uuid.uuid4(), type="tracking.student.exited", version=1, source="tracking", subject=student_id,
        payload=StudentExited(student_id=uuid.UUID(student_id), reason="evaluation", exited_at=at), occurred_at=at,
        traceparent=None, attempt=1, delivery_id=1, consumer="mentoring.pools",
    )


async def _needs(w, student: str) -> list[Need]:
    rows = await w.tx.session.execute(select(Need).where(Need.student_id == uuid.UUID(student)).order_by(Need.opened_at, Need.kind))
    return list(rows.scalars())


async def test_an_admission_opens_a_lab_and_a_life_need_and_again_changes_nothing(w):
    s, other = w.tx.session, w.ids["other_student"]
    assert {(n.kind.value, n.discipline and n.discipline.value, n.closed_at) for n in await _needs(w, other)} == {
        ("lab", "physics", None), ("life", None, None),
    }
    # The same admission delivered again, and a second admission in chemistry: one lab need more, still one life need.
    candidate = (await _needs(w, other))[0].candidate_id
    await service.on_admitted(s, admitted_envelope(other, w.ids["school_b"], "physics", candidate_id=candidate))
    await service.on_admitted(s, admitted_envelope(other, w.ids["school_b"], "chemistry"))
    await service.on_admitted(s, admitted_envelope(other, w.ids["school_b"], "chemistry"))
    found = sorted((n.kind.value, n.discipline and n.discipline.value) for n in await _needs(w, other))
    assert found == [("lab", "chemistry"), ("lab", "physics"), ("life", None)]


async def test_an_exit_closes_the_needs_and_ends_the_mentorships_once_and_a_late_delivery_never_touches_a_re_entry(w):
    s, student = w.tx.session, w.ids["student"]
    mentor = f"/mentors/{w.ids['mentor']}"
    assert (await call(w, "staff", "GET", mentor)).json()["lab_mentees"] == 1
    exit_ = exited_envelope(student)
    await service.on_exited(s, exit_)
    assert all(n.closed_at is not None and n.closed_reason == "exited" for n in await _needs(w, student))
    [ship] = (await s.execute(select(Mentorship).where(Mentorship.student_id == uuid.UUID(student)))).scalars()
    await s.refresh(ship)
    assert ship.status.value == "ended" and "left the programme (evaluation)" in ship.end_reason
    assert (await call(w, "staff", "GET", mentor)).json()["lab_mentees"] == 0  # the place is free
    entries = await chain.entries(s, table=Mentorship.__table__, row_id=ship.id)
    assert entries[-1].kind == "mentorship.ended" and entries[-1].state["status"] == "ended"
    # The mentor sees the student no more.
    assert (await call(w, "mentor", "GET", "/needs", params={"open": "false"})).json()["items"] == []

    # Delivered again: nothing changes. The old admission again: nothing reopens.
    await service.on_exited(s, exit_)
    assert len(await chain.entries(s, table=Mentorship.__table__, row_id=ship.id)) == len(entries)
    [lab] = [n for n in await _needs(w, student) if n.kind.value == "lab"]
    await service.on_admitted(s, admitted_envelope(student, w.ids["school_a"], "math", candidate_id=lab.candidate_id))
    assert all(n.closed_at is not None for n in await _needs(w, student))
    # Re-entry through a later campaign: new needs, which an exit delivered late (it happened before) leaves open.
    await service.on_admitted(s, admitted_envelope(student, w.ids["school_a"], "math"))
    await service.on_exited(s, exited_envelope(student, datetime.now(UTC) - timedelta(days=30)))
    needs = await _needs(w, student)
    assert len(needs) == 4 and len([n for n in needs if n.closed_at is None]) == 2


async def test_each_reader_lists_only_their_rows_with_the_filters(w):
    async def listed(who: str, **params) -> set[str]:
        r = await call(w, who, "GET", "/needs", params={"limit": 200, **params})
        assert r.status_code == 200, r.text
        return {n["id"] for n in r.json()["items"]}

    ids = w.ids
    assert await listed("student") == {ids["need_student_lab"], ids["need_student_life"]}
    assert await listed("guardian", kind="lab") == {ids["need_child_lab"]}
    assert await listed("coordinator", discipline="math") == {ids["need_student_lab"], ids["need_child_lab"]}
    assert await listed("student", student_id=ids["other_student"]) == set()
    staff = await listed("staff", kind="lab", discipline="physics")
    assert ids["need_other_student_lab"] in staff and ids["need_student_lab"] not in staff
    r = await call(w, "mentor", "GET", "/needs", params={"kind": "lab"})
    [mine] = r.json()["items"]
    assert mine["id"] == ids["need_student_lab"] and mine["mentor_id"] == ids["mentor"] and mine["display_name"]
    for bad in ({"kind": "both"}, {"student_id": "not-a-uuid"}, {"limit": 0}, {"open": "maybe"}):
        r = await call(w, "staff", "GET", "/needs", params=bad)
        assert r.status_code == 422 and r.json()["code"] == "validation_failed", r.text

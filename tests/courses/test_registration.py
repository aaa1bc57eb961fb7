"""Registration: windows opening by priority group, every check refused with its rule and nothing
stored, seats up to the capacity and a waitlist in the order of the requests, a drop offering the
seat to the first waitlisted student, a claim, an unclaimed offer expiring to the next, a claim
after its deadline refused, capacity changes, an idempotent retry, roles, and exits (twice)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from services.courses.db import chain, directory
from services.courses.events import consumers, offers, programme
from services.courses.models import Completion, CompletionBasis, Course, Section
from services.courses.registration import service
from services.courses.registration.models import Hold, Offer, OfferStatus, ProgrammeStudent, Registration, RegistrationWindow
from shared import clock
from shared.directory.store import apply
from shared.events.contracts import parse_for_consumer
from shared.events.contracts.identity import PersonRecord
from shared.events.models import Delivery, Event, Subscription
from shared.events.worker import RetryPolicy, claim_due
from tests.courses.support import admission, call, new_course, new_section, new_term, window_in
from tests.mentoring.test_needs import exited_envelope
from tests.selection.support import problem


async def _student(w, school: str = "school_a", *, grade: int = 9, stage: str = "middle", admitted: bool = True) -> str:
    """A new student in the directory, admitted to the programme unless told."""
    student = str(uuid.uuid4())
    await apply(w.tx.session, directory.tables, [PersonRecord(version=10**9, person_id=uuid.UUID(student), roles=["student"],
                                                              display_name="学生", school_id=uuid.UUID(w.ids[school]), grade=grade)])
    if admitted:
        await service.on_admitted(w.tx.session, admission(student, w.ids[school], stage=stage, grade=grade,
                                                          at=clock.now() - timedelta(days=1)))
    return student


async def _world_term(w, *, load_limit: int = 5, capacity: int = 2, days: int = 100, **window: Any) -> tuple[Any, Any]:
    """A term with an open window (unless told) and one section of `capacity`, meeting `days` from now."""
    s, now = w.tx.session, clock.now()
    term, course = await new_term(s, load_limit=load_limit), await new_course(s)
    opens = window.pop("opens", now - timedelta(hours=1))
    await service.create_window(s, service_principal(w), window_in(term.id, opens=opens, closes=now + timedelta(days=10), **window))
    return term, await new_section(s, term, course, starts=now + timedelta(days=days), capacity=capacity)


def service_principal(w):
    from shared.tokens import Principal

    return Principal(id=w.ids["staff"], kind="user", roles=frozenset({"staff"}))


async def _register(w, who: str, section_id: Any, student: str | None = None, **kwargs: Any):
    body = {"section_id": str(section_id), **({"student_id": student} if student else {})}
    return await call(w, who, "POST", "/registrations", json=body, **kwargs)


async def _count(w, model, *where) -> int:
    return (await w.tx.session.execute(sa.select(sa.func.count()).select_from(model).where(*where))).scalar_one()


async def _taken(w, section_id: Any) -> int:
    return (await w.tx.session.get(Section, uuid.UUID(str(section_id)), populate_existing=True)).taken


async def _events(w, type_: str, subject: str) -> list[Event]:
    return list((await w.tx.session.execute(sa.select(Event).where(Event.type == type_, Event.subject == subject).order_by(Event.id))).scalars())


async def _open_offer(w, registration_id: str) -> Offer | None:
    return (await w.tx.session.execute(sa.select(Offer).where(Offer.registration_id == uuid.UUID(registration_id),
                                                              Offer.status == OfferStatus.open))).scalar_one_or_none()


class Delivered:
    """A timer's delivery as the event worker hands it to the handler."""

    def __init__(self, event: Event) -> None:
        self.event_id, self.payload = event.event_id, parse_for_consumer(event.type, event.version, event.payload)


async def test_groups_open_in_turn_seats_then_a_waitlist_a_drop_offers_one_seat_claimed_then_one_expiring_to_the_next(w):
    s = w.tx.session
    with clock.use_clock(clock.FrozenClock()) as moved:
        now = clock.now()
        term, course = await new_term(s), await new_course(s)
        groups = [{"label": "研究型学生", "opens_at": (now + timedelta(hours=1)).isoformat(), "research_only": True},
                  {"label": "九年级及以上", "opens_at": (now + timedelta(hours=2)).isoformat(), "min_grade": 9},
                  {"label": "全体学生", "opens_at": (now + timedelta(hours=3)).isoformat()}]
        r = await call(w, "staff", "POST", "/registration-windows", json={
            "term_id": str(term.id), "groups": groups, "closes_at": (now + timedelta(days=5)).isoformat(),
            "drop_deadline": (now + timedelta(days=20)).isoformat(), "claim_hours": 24})
        assert r.status_code == 201, r.text
        section = await new_section(s, term, course, starts=now + timedelta(days=30), capacity=2)
        research, ninth, seventh, late = (await _student(w, grade=10, stage="high"), await _student(w, grade=9),
                                          await _student(w, grade=7), await _student(w, grade=8))
        # Before its group opens each student is refused with the time their group opens.
        body = problem(await _register(w, "staff", section.id, research), 409, "courses_window_not_open")
        assert "研究型学生" in body["detail"]
        moved.advance(hours=1)
        assert (await _register(w, "staff", section.id, research)).json()["status"] == "confirmed"
        assert "九年级及以上" in problem(await _register(w, "staff", section.id, ninth), 409, "courses_window_not_open")["detail"]
        moved.advance(hours=1)
        assert (await _register(w, "staff", section.id, ninth)).json()["status"] == "confirmed"
        problem(await _register(w, "staff", section.id, seventh), 409, "courses_window_not_open")
        moved.advance(hours=1)
        # Full: the next ones wait, in the order of their requests; the world's student is third.
        first = (await _register(w, "staff", section.id, seventh)).json()
        moved.advance(seconds=1)
        await service.on_admitted(s, admission(w.ids["student"], w.ids["school_a"]))
        mine = await _register(w, "student", section.id)
        assert mine.status_code == 201, mine.text
        moved.advance(seconds=1)
        third = (await _register(w, "staff", section.id, late)).json()
        assert [(x["status"], x["position"]) for x in (first, mine.json(), third)] == [("waitlisted", 1), ("waitlisted", 2), ("waitlisted", 3)]
        assert await _taken(w, section.id) == 2
        again = await _register(w, "student", section.id)
        assert again.status_code == 200 and again.json()["id"] == mine.json()["id"]
        assert len(await _events(w, "courses.registration.confirmed", research)) == 1
        # The student sees their own place.
        listed = (await call(w, "student", "GET", "/registrations", params={"section_id": str(section.id)})).json()["items"]
        assert [(x["id"], x["position"]) for x in listed] == [(mine.json()["id"], 2)]

        # A drop offers the freed seat to the first waitlisted student only; the seat stays taken.
        seated = (await call(w, "staff", "GET", "/registrations", params={"student_id": research})).json()["items"][0]
        r = await call(w, "staff", "POST", f"/registrations/{seated['id']}/drop")
        assert r.status_code == 200 and r.json()["status"] == "dropped", r.text
        assert len(await _events(w, "courses.registration.dropped", research)) == 1
        assert await _taken(w, section.id) == 2
        assert await _count(w, Offer, Offer.section_id == section.id) == 1
        offer = await _open_offer(w, first["id"])
        assert offer is not None and offer.claim_by == clock.now() + timedelta(hours=24)
        [made] = await _events(w, "courses.offer.made", seventh)
        [timer] = await _events(w, "courses.offer.deadline", str(offer.id))
        assert timer.payload["offer_id"] == str(offer.id)
        r = await call(w, "staff", "GET", f"/registrations/{first['id']}")
        assert (r.json()["status"], r.json()["offer"]["id"], r.json()["position"]) == ("offered", str(offer.id), None)
        assert (await call(w, "student", "GET", f"/registrations/{mine.json()['id']}")).json()["position"] == 1
        # Claimed before its deadline: confirmed; its timer, delivered later, does nothing.
        r = await call(w, "staff", "POST", f"/offers/{offer.id}/claim")
        assert r.status_code == 200 and r.json()["status"] == "confirmed", r.text
        problem(await call(w, "staff", "POST", f"/offers/{offer.id}/claim"), 409, "courses_offer_closed")
        moved.advance(hours=25)
        await service.on_offer_deadline(s, Delivered(timer))
        assert (await call(w, "staff", "GET", f"/registrations/{first['id']}")).json()["status"] == "confirmed"

        # The next drop offers the seat to the world's student, who lets it expire: the timer offers it to the next.
        r = await call(w, "staff", "POST", f"/registrations/{first['id']}/drop")
        assert r.status_code == 200, r.text
        mine_offer = await _open_offer(w, mine.json()["id"])
        [mine_timer] = await _events(w, "courses.offer.deadline", str(mine_offer.id))
        moved.advance(hours=24)
        # A claim at (or after) the deadline is refused, and nothing changes.
        problem(await call(w, "student", "POST", f"/offers/{mine_offer.id}/claim"), 409, "courses_offer_expired")
        assert (await s.get(Offer, mine_offer.id, populate_existing=True)).status is OfferStatus.open
        for _ in range(2):  # the worker may deliver it twice
            await service.on_offer_deadline(s, Delivered(mine_timer))
        assert (await call(w, "student", "GET", f"/registrations/{mine.json()['id']}")).json()["status"] == "expired"
        assert len(await _events(w, "courses.offer.expired", w.ids["student"])) == 1
        assert (await _open_offer(w, third["id"])) is not None
        assert await _taken(w, section.id) == 2 and await _count(w, Offer, Offer.section_id == section.id) == 3
        # The last one declines: no one waits, so the seat is free again.
        third_offer = await _open_offer(w, third["id"])
        r = await call(w, "staff", "POST", f"/offers/{third_offer.id}/decline")
        assert r.status_code == 200 and r.json()["status"] == "declined", r.text
        assert await _taken(w, section.id) == 1
        kinds = [e.kind for e in await chain.entries(s, table=Registration.__table__, row_id=uuid.UUID(mine.json()["id"]))]
        assert kinds == ["registration.waitlisted", "registration.offered", "registration.expired"]


async def test_each_check_is_refused_with_its_rule_and_nothing_is_stored(w):
    s = w.tx.session
    with clock.use_clock(clock.FrozenClock()) as moved:
        now = clock.now()
        term, section = await _world_term(w, load_limit=2)
        course = await s.get(Course, section.course_id)
        student = await _student(w)

        async def refused(target: Any, who: str, status: int, code: str) -> dict:
            before = (await _count(w, Registration), await _taken(w, target.id), await _count(w, Event))
            body = problem(await _register(w, "staff", target.id, who), status, code)
            assert (await _count(w, Registration), await _taken(w, target.id), await _count(w, Event)) == before
            return body

        await refused(section, await _student(w, admitted=False), 422, "courses_not_in_programme")
        held = await _student(w)
        await service.place_hold(s, service_principal(w), uuid.UUID(held), "Fees for the last term are unpaid.")
        assert "Fees for the last term are unpaid." in (await refused(section, held, 409, "courses_student_on_hold"))["detail"]
        bare_term = await new_term(s)
        await refused(await new_section(s, bare_term, course, starts=now + timedelta(days=60)), student, 409, "courses_window_none")
        narrow_term = await new_term(s)
        await service.create_window(s, service_principal(w), window_in(
            narrow_term.id, opens=now, closes=now + timedelta(days=3), groups=[{"label": "高三", "opens_at": now, "min_grade": 12}]))
        await refused(await new_section(s, narrow_term, course, starts=now + timedelta(days=61)), student, 409, "courses_window_no_group")
        closed_term = await new_term(s)
        await service.create_window(s, service_principal(w), window_in(closed_term.id, opens=now - timedelta(days=3), closes=now))
        assert now.isoformat()[:19] in (await refused(await new_section(s, closed_term, course, starts=now + timedelta(days=62)), student,
                                                      409, "courses_window_closed"))["detail"]
        older = await new_course(s, min_grade=10)
        body = await refused(await new_section(s, term, older, starts=now + timedelta(days=63)), student, 422, "courses_grade_not_eligible")
        assert "grades 10 to 12" in body["detail"] and "grade 9" in body["detail"]
        basics = await new_course(s)
        advanced = await new_course(s, prerequisites=[basics.id])
        after = await new_section(s, term, advanced, starts=now + timedelta(days=64))
        assert str(basics.id) in (await refused(after, student, 422, "courses_prerequisite_missing"))["detail"]
        # With the prerequisite completed it passes.
        s.add(Completion(student_id=uuid.UUID(student), course_id=basics.id, basis=CompletionBasis.exemption, completed_at=now))
        await s.flush()
        assert (await _register(w, "staff", after.id, student)).status_code == 201
        # A section meeting in the same hours as one the student holds.
        overlapping = await new_section(s, term, course, starts=now + timedelta(days=64, hours=1))
        assert str(after.id) in (await refused(overlapping, student, 409, "courses_time_conflict"))["detail"]
        assert (await _register(w, "staff", section.id, student)).status_code == 201
        body = await refused(await new_section(s, term, course, starts=now + timedelta(days=65)), student, 409, "courses_load_limit")
        assert "holds 2 section(s) this term; the limit is 2" in body["detail"]
        # A released hold lets the student register again.
        [hold] = (await s.execute(sa.select(Hold).where(Hold.student_id == uuid.UUID(held)))).scalars()
        r = await call(w, "staff", "POST", f"/registration-holds/{hold.id}/release")
        assert r.status_code == 200 and r.json()["released_at"], r.text
        assert (await call(w, "staff", "POST", f"/registration-holds/{hold.id}/release")).json()["released_at"] == r.json()["released_at"]
        assert (await _register(w, "staff", section.id, held)).status_code == 201
        moved.advance(days=30)
        assert (await _register(w, "staff", section.id, await _student(w))).json()["code"] == "courses_window_closed"


async def test_hostile_inputs_are_refused_and_store_nothing(w):
    _, section = await _world_term(w)
    await service.on_admitted(w.tx.session, admission(w.ids["student"], w.ids["school_a"]))
    before = await _count(w, Registration)
    problem(await _register(w, "staff", uuid.uuid4(), w.ids["student"]), 404, "courses_section_not_found")
    # A student registers only themself; staff name the student; a guardian registers no one.
    problem(await _register(w, "student", section.id, w.ids["other_student"]), 404, "student_not_found")
    problem(await _register(w, "staff", section.id), 422, "courses_registration_student_required")
    assert (await _register(w, "guardian", section.id, w.ids["child"])).status_code == 403
    for body in ({"section_id": "not-a-uuid"}, {"section_id": str(section.id), "student_id": "\x00"}, {}, {"section_id": str(section.id), "x": 1}):
        r = await call(w, "student", "POST", "/registrations", json=body)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
    assert await _count(w, Registration) == before
    # Someone else's registration and offer are not there for a student.
    problem(await call(w, "student", "POST", f"/registrations/{w.ids['reg_other_student']}/drop"), 404, "courses_registration_not_found")
    problem(await call(w, "student", "GET", f"/registrations/{w.ids['reg_other_student']}"), 404, "courses_registration_not_found")
    problem(await call(w, "staff", "POST", f"/offers/{uuid.uuid4()}/claim"), 404, "courses_offer_not_found")
    # Capacity: never negative, never above the range, never below the seats taken.
    taken = await _taken(w, w.ids["reg_section"])
    for capacity, status, code in ((-1, 422, "courses_capacity_invalid"), (10**6, 422, "courses_capacity_invalid"),
                                   (taken - 1, 409, "courses_capacity_below_taken")):
        problem(await call(w, "staff", "PUT", f"/sections/{w.ids['reg_section']}/capacity", json={"capacity": capacity}), status, code)
    assert (await w.tx.session.get(Section, uuid.UUID(w.ids["reg_section"]), populate_existing=True)).capacity == 10
    problem(await call(w, "staff", "PUT", f"/sections/{uuid.uuid4()}/capacity", json={"capacity": 3}), 404, "courses_section_not_found")
    # Holds: an unknown student, a reason too long or with a NUL.
    problem(await call(w, "staff", "POST", "/registration-holds", json={"student_id": str(uuid.uuid4()), "reason": "Unpaid fees."}),
            404, "student_not_found")
    for reason in ("x" * 2001, "Unpaid\x00 fees", "  "):
        r = await call(w, "staff", "POST", "/registration-holds", json={"student_id": w.ids["student"], "reason": reason})
        assert r.status_code == 422, r.text
    assert await _count(w, Hold, Hold.student_id == uuid.UUID(w.ids["student"])) == 0


async def test_windows_hold_together_and_one_per_term(w):
    s, now = w.tx.session, clock.now()
    term = await new_term(s)

    def body(**extra: Any) -> dict:
        return {"term_id": str(term.id), "groups": [{"label": "全体学生", "opens_at": now.isoformat()}],
                "closes_at": (now + timedelta(days=3)).isoformat(), "drop_deadline": (now + timedelta(days=9)).isoformat(), **extra}

    for bad, reason in (({"closes_at": (now - timedelta(hours=1)).isoformat()}, "after the window closes"),
                        ({"groups": [{"label": "A", "opens_at": now.isoformat()}, {"label": "A", "opens_at": now.isoformat()}]}, "twice"),
                        ({"groups": [{"label": "A", "opens_at": now.isoformat(), "min_grade": 9, "max_grade": 7}]}, "grades"),
                        ({"drop_deadline": (now - timedelta(days=1)).isoformat()}, "drop deadline")):
        assert reason in problem(await call(w, "staff", "POST", "/registration-windows", json=body(**bad)), 422, "courses_window_invalid")["detail"]
    for bad in ({"claim_hours": 0}, {"claim_hours": -3}, {"groups": []}, {"closes_at": "2027-01-01T00:00:00"}):
        assert (await call(w, "staff", "POST", "/registration-windows", json=body(**bad))).status_code == 422
    problem(await call(w, "staff", "POST", "/registration-windows", json=body(term_id=str(uuid.uuid4()))), 404, "courses_term_not_found")
    assert await _count(w, RegistrationWindow, RegistrationWindow.term_id == term.id) == 0
    created = await call(w, "staff", "POST", "/registration-windows", json=body())
    assert created.status_code == 201, created.text
    problem(await call(w, "staff", "POST", "/registration-windows", json=body()), 409, "courses_window_exists")
    changed = await call(w, "staff", "PUT", f"/registration-windows/{created.json()['id']}", json=body(claim_hours=48))
    assert changed.status_code == 422  # the term is not changed by a PUT
    payload = {k: v for k, v in body(claim_hours=48).items() if k != "term_id"}
    changed = await call(w, "staff", "PUT", f"/registration-windows/{created.json()['id']}", json=payload)
    assert changed.status_code == 200 and changed.json()["claim_hours"] == 48, changed.text
    problem(await call(w, "staff", "PUT", f"/registration-windows/{uuid.uuid4()}", json=payload), 404, "courses_window_not_found")
    assert (await call(w, "student", "PUT", f"/registration-windows/{created.json()['id']}", json=payload)).status_code == 403
    kinds = [e.kind for e in await chain.entries(s, table=RegistrationWindow.__table__, row_id=uuid.UUID(created.json()["id"]))]
    assert kinds == ["registration_window.created", "registration_window.changed"]


async def test_a_retried_registration_with_the_same_idempotency_key_registers_once(w):
    _, section = await _world_term(w)
    student = await _student(w)
    headers = {**w.caller("staff").headers, "Idempotency-Key": f"reg-{uuid.uuid4()}"}
    first = await w.clients["courses"].post("/registrations", json={"section_id": str(section.id), "student_id": student}, headers=headers)
    retry = await w.clients["courses"].post("/registrations", json={"section_id": str(section.id), "student_id": student}, headers=headers)
    assert (first.status_code, retry.status_code) == (201, 201), retry.text
    assert retry.headers.get("Idempotent-Replayed") == "true" and retry.json()["id"] == first.json()["id"]
    assert await _count(w, Registration, Registration.student_id == uuid.UUID(student)) == 1 and await _taken(w, section.id) == 1
    other = await _student(w)
    reused = await w.clients["courses"].post("/registrations", json={"section_id": str(section.id), "student_id": other}, headers=headers)
    problem(reused, 422, "idempotency_key_reused")
    assert await _count(w, Registration, Registration.student_id == uuid.UUID(other)) == 0


async def test_a_raised_capacity_offers_the_new_seats_in_waitlist_order(w):
    _, section = await _world_term(w, capacity=0)
    waiting = [await _student(w) for _ in range(3)]
    with clock.use_clock(clock.FrozenClock()) as moved:
        ids = []
        for student in waiting:
            ids.append((await _register(w, "staff", section.id, student)).json()["id"])
            moved.advance(seconds=1)
        r = await call(w, "staff", "PUT", f"/sections/{section.id}/capacity", json={"capacity": 2})
        assert r.status_code == 200 and (r.json()["capacity"], r.json()["taken"]) == (2, 2), r.text
    assert [await _open_offer(w, i) is not None for i in ids] == [True, True, False]
    assert (await call(w, "staff", "GET", f"/registrations/{ids[2]}")).json()["position"] == 1
    # Lowered to the seats taken is allowed; below, refused.
    assert (await call(w, "staff", "PUT", f"/sections/{section.id}/capacity", json={"capacity": 2})).status_code == 200
    problem(await call(w, "staff", "PUT", f"/sections/{section.id}/capacity", json={"capacity": 1}), 409, "courses_capacity_below_taken")


async def test_rosters_and_lists_are_scoped(w):
    roster = f"/sections/{w.ids['reg_section']}/roster"
    seen = {who: {x["student_id"] for x in (await call(w, who, "GET", roster)).json()["items"]}
            for who in ("staff", "coordinator", "mentor", "expert")}
    everyone = {w.ids["student"], w.ids["child"], w.ids["other_student"]}
    assert seen == {"staff": everyone, "coordinator": {w.ids["student"], w.ids["child"]}, "mentor": everyone, "expert": set()}
    assert (await call(w, "student", "GET", roster)).status_code == 403
    child = (await call(w, "guardian", "GET", "/registrations")).json()["items"]
    assert {x["student_id"] for x in child} == {w.ids["child"]}
    waiting = (await call(w, "staff", "GET", f"/sections/{w.ids['reg_section_full']}/roster")).json()["items"]
    assert [(x["id"], x["status"], x["position"]) for x in waiting] == [(w.ids["reg_other_waitlisted"], "waitlisted", 1)]
    # Only a student registers: a guardian may read but not drop or claim.
    assert (await call(w, "guardian", "POST", f"/registrations/{w.ids['reg_child']}/drop")).status_code == 403
    assert (await call(w, "guardian", "POST", f"/offers/{w.ids['offer_student']}/claim")).status_code == 403


async def test_a_drop_after_the_deadline_is_refused_and_a_waitlist_place_may_be_left_any_time(w):
    now = clock.now()
    _, section = await _world_term(w, capacity=1, drop=now + timedelta(days=1))
    seated, waiting = await _student(w), await _student(w)
    first = (await _register(w, "staff", section.id, seated)).json()
    second = (await _register(w, "staff", section.id, waiting)).json()
    with clock.use_clock(clock.FrozenClock(now + timedelta(days=2))):
        problem(await call(w, "staff", "POST", f"/registrations/{first['id']}/drop"), 409, "courses_drop_deadline_passed")
        assert (await call(w, "staff", "GET", f"/registrations/{first['id']}")).json()["status"] == "confirmed"
        r = await call(w, "staff", "POST", f"/registrations/{second['id']}/drop")
        assert r.status_code == 200 and r.json()["status"] == "left", r.text
        again = await call(w, "staff", "POST", f"/registrations/{second['id']}/drop")
        assert again.status_code == 200 and again.json()["ended_at"] == r.json()["ended_at"]
    assert await _taken(w, section.id) == 1 and await _count(w, Offer, Offer.section_id == section.id) == 0


async def test_an_exit_drops_future_seats_and_waitlist_places_offers_them_on_and_twice_changes_nothing(w):
    s = w.tx.session
    assert programme.handlers == {"selection.candidate.admitted": service.on_admitted, "tracking.student.exited": service.on_exited}
    assert offers.handlers == {"courses.offer.deadline": service.on_offer_deadline} and programme in consumers and offers in consumers
    now = clock.now()
    term, future = await _world_term(w, capacity=1)
    course = await s.get(type(await new_course(s)), future.course_id)
    full = await new_section(s, term, course, starts=now + timedelta(days=101), capacity=0)
    started = await new_section(s, term, course, starts=now - timedelta(days=7), capacity=5)
    leaving, next_in_line = await _student(w), await _student(w)
    seat = (await _register(w, "staff", future.id, leaving)).json()
    waiting = (await _register(w, "staff", full.id, leaving)).json()
    past = (await _register(w, "staff", started.id, leaving)).json()
    behind = (await _register(w, "staff", future.id, next_in_line)).json()
    event = exited_envelope(leaving, now + timedelta(minutes=1))
    with clock.use_clock(clock.FrozenClock(now + timedelta(minutes=2))):
        for _ in range(2):
            await service.on_exited(s, event)
    statuses = {x["id"]: x["status"] for x in (await call(w, "staff", "GET", "/registrations", params={"student_id": leaving})).json()["items"]}
    assert statuses == {seat["id"]: "dropped", waiting["id"]: "left", past["id"]: "confirmed"}
    assert len(await _events(w, "courses.registration.dropped", leaving)) == 1
    assert await _open_offer(w, behind["id"]) is not None and await _taken(w, future.id) == 1
    kinds = [e.kind for e in await chain.entries(s, table=Registration.__table__, row_id=uuid.UUID(seat["id"]))]
    assert kinds == ["registration.confirmed", "registration.dropped"]
    problem(await _register(w, "staff", full.id, leaving), 422, "courses_not_in_programme")
    # Re-admitted later, the old exit delivered again late does not remove them.
    await service.on_admitted(s, admission(leaving, w.ids["school_a"], at=now + timedelta(hours=1)))
    await service.on_exited(s, event)
    found = await s.get(ProgrammeStudent, uuid.UUID(leaving), populate_existing=True)
    assert found.exited_at is None and found.admitted_at == now + timedelta(hours=1)
    # An admission older than the exit, delivered late, does not bring them back.
    await service.on_exited(s, exited_envelope(leaving, now + timedelta(hours=2)))
    await service.on_admitted(s, admission(leaving, w.ids["school_a"], at=now + timedelta(hours=1, minutes=30)))
    assert (await s.get(ProgrammeStudent, uuid.UUID(leaving), populate_existing=True)).exited_at == now + timedelta(hours=2)


async def test_a_research_student_is_one_admitted_at_the_high_school_stage(w):
    s = w.tx.session
    high, middle = await _student(w, grade=10, stage="high"), await _student(w, grade=10)
    assert [(await s.get(ProgrammeStudent, uuid.UUID(x))).research for x in (high, middle)] == [True, False]
    # A second delivery of the admission changes nothing.
    row = await s.get(ProgrammeStudent, uuid.UUID(high))
    admitted_at = row.admitted_at
    await service.on_admitted(s, admission(high, w.ids["school_a"], stage="middle", at=clock.now()))
    assert (await s.get(ProgrammeStudent, uuid.UUID(high), populate_existing=True)).admitted_at == admitted_at


async def test_the_offer_timer_is_held_until_the_claim_deadline_and_the_first_eligible_student_gets_the_seat(w):
    s = w.tx.session
    # The offers' consumer subscribed (as its process does at start), so the timer fans out to it.
    await s.execute(insert(Subscription).values(consumer="courses.offers", event_type="courses.offer.deadline").on_conflict_do_nothing())
    _, section = await _world_term(w, capacity=0, claim_hours=6)
    held, eligible = await _student(w), await _student(w)
    with clock.use_clock(clock.FrozenClock()) as moved:
        first = (await _register(w, "staff", section.id, held)).json()
        moved.advance(seconds=1)
        second = (await _register(w, "staff", section.id, eligible)).json()
        # The first waitlisted is on hold by the time a seat frees: the seat goes to the next, the first keeps their place.
        await service.place_hold(s, service_principal(w), uuid.UUID(held), "Fees for the last term are unpaid.")
        assert (await call(w, "staff", "PUT", f"/sections/{section.id}/capacity", json={"capacity": 1})).status_code == 200
        assert await _open_offer(w, first["id"]) is None
        offer = await _open_offer(w, second["id"])
        assert offer.claim_by == clock.now() + timedelta(hours=6)
        assert (await call(w, "staff", "GET", f"/registrations/{first['id']}")).json()["position"] == 1
        [timer] = await _events(w, "courses.offer.deadline", str(offer.id))
        delivery = (await s.execute(sa.select(Delivery).where(Delivery.consumer == "courses.offers", Delivery.event_id == timer.id))).scalar_one()
        assert delivery.available_at == offer.claim_by

        async def due() -> set[int]:
            rows = await claim_due(s, consumer="courses.offers", types=["courses.offer.deadline"], now=clock.now(), limit=50,
                                   retry=RetryPolicy(3, 1.0, 10.0))
            return {r.delivery_id for r in rows if r.delivery_id is not None}

        assert delivery.id not in await due()  # held until the deadline
        moved.advance(hours=6)
        assert delivery.id in await due()
        await service.on_offer_deadline(s, Delivered(timer))
        assert (await call(w, "staff", "GET", f"/registrations/{second['id']}")).json()["status"] == "expired"
        # The student on hold is still not offered the seat: it is free again.
        assert await _open_offer(w, first["id"]) is None and await _taken(w, section.id) == 0

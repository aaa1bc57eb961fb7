"""A mentorship's life: who reads it, pausing and resuming, requests to end or re-match decided by staff,
meetings and goals written by the two; every end announced once, the exit's too; every refusal
stores nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa

from services.mentoring.db import chain
from services.mentoring.mentors import service as mentors
from services.mentoring.mentorships.models import Goal, GoalUpdate, Meeting, MentorshipPause, MentorshipRequest
from services.mentoring.mentorships.service import REMATCH_RULE
from shared.clock import CHINA, today
from services.mentoring.models import Mentorship
from shared import clock
from shared.events.models import Event
from tests.mentoring.support import call
from tests.mentoring.test_needs import exited_envelope
from tests.selection.support import problem

ENDED = "mentoring.mentorship.ended"


def _path(w, name: str, tail: str = "") -> str:
    return f"/mentorships/{w.ids[name]}{tail}"


async def _ok(r, status: int = 200) -> dict:
    assert r.status_code == status, r.text
    return r.json()


async def _listed(w, who: str, path: str = "/mentorships", **params) -> list[dict]:
    return (await _ok(await call(w, who, "GET", path, params={"limit": 200, **params})))["items"]


async def _ended_events(w, student: str) -> list[Event]:
    stmt = sa.select(Event).where(Event.type == ENDED, Event.subject == w.ids[student])
    return list((await w.tx.session.execute(stmt)).scalars())


async def _count(w, model, **where) -> int:
    stmt = sa.select(sa.func.count()).select_from(model).where(*(getattr(model, k) == v for k, v in where.items()))
    return (await w.tx.session.execute(stmt)).scalar_one()


async def _lab_mentees(w, mentor: str = "mentor") -> tuple[int, int]:
    body = await _ok(await call(w, "staff", "GET", f"/mentors/{w.ids[mentor]}"))
    return body["lab_mentees"], body["life_mentees"]


async def test_a_re_match_approved_ends_the_mentorship_frees_the_place_announces_it_once_and_no_later_run_pairs_them(w):
    with clock.use_clock(clock.FrozenClock()) as moved:
        lab = _path(w, "mentorship_student_lab")
        assert await _lab_mentees(w) == (1, 0)
        made = await _ok(await call(w, "student", "POST", f"{lab}/requests",
                                    json={"kind": "rematch", "reason": "  Our research interests have drifted apart.  "}), 201)
        assert (made["status"], made["side"], made["reason"]) == ("pending", "student", "Our research interests have drifted apart.")
        shown = await _ok(await call(w, "mentor", "GET", lab))
        assert shown["pending_request"]["id"] == made["id"] and shown["pending_request"]["kind"] == "rematch"
        # One pending request per mentorship: the mentor's own is refused, and not stored.
        body = problem(await call(w, "mentor", "POST", f"{lab}/requests", json={"kind": "end", "reason": "I am moving abroad."}),
                       409, "mentoring_request_pending")
        assert made["id"] in body["detail"]
        assert await _count(w, MentorshipRequest, mentorship_id=uuid.UUID(w.ids["mentorship_student_lab"])) == 2  # the world's declined one too
        assert await _ended_events(w, "student") == []

        moved.advance(hours=1)
        decision = f"{lab}/requests/{made['id']}/decision"
        problem(await call(w, "mentor", "POST", decision, json={"outcome": "approved", "note": "Fine by me."}), 403, "forbidden")
        decided = await _ok(await call(w, "staff", "POST", decision, json={"outcome": "approved", "note": "A new lab mentor next round."}))
        assert (decided["status"], decided["note"], decided["decided_by"]) == ("approved", "A new lab mentor next round.", w.ids["staff"])
        ended = await _ok(await call(w, "student", "GET", lab))
        assert (ended["status"], ended["end_reason"], ended["pending_request"]) == ("ended", REMATCH_RULE, None)
        assert ended["ended_at"] == decided["decided_at"]
        # Twice: refused, nothing more announced.
        problem(await call(w, "staff", "POST", decision, json={"outcome": "declined", "note": "Second thoughts."}), 409, "mentoring_request_decided")
        [event] = await _ended_events(w, "student")
        assert event.payload == {"mentorship_id": w.ids["mentorship_student_lab"], "student_id": w.ids["student"], "mentor_id": w.ids["mentor"],
                                 "kind": "lab", "discipline": "math", "ended_at": event.payload["ended_at"], "reason": "rematch_request"}
        s = w.tx.session
        kinds = [e.kind for e in await chain.entries(s, table=Mentorship.__table__, row_id=uuid.UUID(w.ids["mentorship_student_lab"]))]
        assert kinds[-1] == "mentorship.ended" and kinds.count("mentorship.ended") == 1
        request_entries = await chain.entries(s, table=MentorshipRequest.__table__, row_id=uuid.UUID(made["id"]))
        assert [(e.kind, e.state["status"]) for e in request_entries] == [("mentorship_request.rematch", "pending"),
                                                                          ("mentorship_request.approved", "approved")]
        # The place is free; the need waits for the next round, with no mentor.
        assert await _lab_mentees(w) == (0, 0)
        [need] = await _listed(w, "staff", "/needs", student_id=w.ids["student"], kind="lab")
        assert need["id"] == w.ids["need_student_lab"] and need["mentor_id"] is None and need["closed_at"] is None

        # Ended is final: nothing more on it, from anyone.
        for who, tail, payload in (("mentor", "/pause", {"reason": "Exams."}), ("staff", "/resume", {"reason": "Exams are over."}),
                                   ("student", "/requests", {"kind": "end", "reason": "Once more."}),
                                   ("student", "/meetings", {"held_on": today().isoformat(), "minutes": 30, "topic": "Farewell"}),
                                   ("mentor", "/goals", {"title": "One more goal"}),
                                   ("mentor", f"/goals/{w.ids['goal_student']}/progress", {"percent": 90, "note": "Nearly there."})):
            problem(await call(w, who, "POST", f"{lab}{tail}", json=payload), 409, "mentoring_mentorship_ended")
        problem(await call(w, "mentor", "PATCH", f"{lab}/meetings/{w.ids['meeting_mentor']}", json={"minutes": 10}), 409,
                "mentoring_mentorship_ended")
        assert len(await _ended_events(w, "student")) == 1

        # The next lab run: the student still lists the mentor first, and is not placed with them.
        round_id = w.ids["round_lab"]
        moved.advance(days=31)
        run = await _ok(await call(w, "staff", "POST", f"/rounds/{round_id}/runs"), 201)
        entries = {e["need_id"]: e for e in await _listed(w, "staff", f"/rounds/{round_id}/runs/{run['id']}/entries")}
        mine = entries[w.ids["need_student_lab"]]
        assert mine["mentor_id"] is None and mine["decision"] == "unmatched"
        assert [(p["mentor_id"], p["reason"], p["rule"]) for p in mine["explanation"]["passed"]] == [(w.ids["mentor"], "banned", REMATCH_RULE)]
        # Nor forced on them, nor given them as a life mentor (the mentor gives both).
        problem(await call(w, "staff", "PUT", f"/rounds/{round_id}/overrides/{w.ids['need_student_lab']}/{w.ids['mentor']}",
                           json={"action": "force", "reason": "Staff insist."}), 409, "mentoring_force_invalid")
        now = clock.now()
        life = await _ok(await call(w, "staff", "POST", "/rounds", json={
            "kind": "life", "cohort_year": 2027, "title": "2027 life", "opens_at": (now - timedelta(hours=2)).isoformat(),
            "closes_at": (now - timedelta(hours=1)).isoformat()}), 201)
        run = await _ok(await call(w, "staff", "POST", f"/rounds/{life['id']}/runs"), 201)
        entries = {e["need_id"]: e for e in await _listed(w, "staff", f"/rounds/{life['id']}/runs/{run['id']}/entries")}
        assert entries[w.ids["need_student_life"]]["mentor_id"] is None


async def test_the_guardian_asks_to_end_staff_decline_then_approve_and_the_other_mentor_has_a_place_again(w):
    child = _path(w, "mentorship_child_life")
    assert await _lab_mentees(w, "other_mentor") == (0, 2)
    first = await _ok(await call(w, "guardian", "POST", f"{child}/requests", json={"kind": "end", "reason": "Weekends are for family now."}), 201)
    assert first["side"] == "guardian"
    r = await call(w, "staff", "POST", f"{child}/requests/{first['id']}/decision", json={"outcome": "declined", "note": "Talk to the mentor first."})
    assert (await _ok(r))["status"] == "declined"
    assert (await _ok(await call(w, "guardian", "GET", child)))["status"] == "active"
    assert await _ended_events(w, "child") == [] and await _lab_mentees(w, "other_mentor") == (0, 2)
    # Declined, so another may be made; approved, the mentorship ends.
    second = await _ok(await call(w, "guardian", "POST", f"{child}/requests", json={"kind": "end", "reason": "We talked; still no."}), 201)
    await _ok(await call(w, "staff", "POST", f"{child}/requests/{second['id']}/decision", json={"outcome": "approved", "note": "Agreed."}))
    body = await _ok(await call(w, "guardian", "GET", child))
    assert (body["status"], body["end_reason"]) == ("ended", "ended by an approved end request")
    [event] = await _ended_events(w, "child")
    assert (event.payload["reason"], event.payload["kind"], event.payload["discipline"]) == ("end_request", "life", None)
    assert await _lab_mentees(w, "other_mentor") == (0, 1)
    requests = await _listed(w, "guardian", f"{child}/requests")
    assert [(x["id"], x["status"]) for x in requests] == [(first["id"], "declined"), (second["id"], "approved")]


async def test_requests_refused_store_nothing(w):
    lab, child = _path(w, "mentorship_student_lab"), _path(w, "mentorship_child_life")
    before = await _count(w, MentorshipRequest)
    good = {"kind": "rematch", "reason": "Schedules clash."}
    for who, path, body, status, code in (
        ("mentor", child, good, 404, "mentoring_mentorship_not_found"),  # someone else's mentee
        ("student", child, good, 404, "mentoring_mentorship_not_found"),
        ("guardian", lab, good, 404, "mentoring_mentorship_not_found"),  # not their child
        ("student", f"/mentorships/{uuid.uuid4()}", good, 404, "mentoring_mentorship_not_found"),
        ("coordinator", lab, good, 403, "forbidden"),
        ("staff", lab, good, 403, "forbidden"),  # staff decide, they do not ask
        ("student", lab, {"kind": "rematch", "reason": "no"}, 422, "validation_failed"),
        ("student", lab, {"kind": "rematch", "reason": "x" * 2001}, 422, "validation_failed"),
        ("student", lab, {"kind": "rematch", "reason": "bad\u0000text"}, 422, "validation_failed"),
        ("student", lab, {"kind": "swap", "reason": "Schedules clash."}, 422, "validation_failed"),
        ("student", lab, {"kind": "end"}, 422, "validation_failed"),
        ("student", "/mentorships/not-an-id", good, 422, "validation_failed"),
    ):
        problem(await call(w, who, "POST", f"{path}/requests", json=body), status, code)
    other = _path(w, "mentorship_other_life", f"/requests/{w.ids['request_other']}/decision")
    approve = {"outcome": "approved", "note": "Agreed."}
    for path, body, status, code in (
        (_path(w, "mentorship_student_lab", f"/requests/{w.ids['request_other']}/decision"), approve, 404, "mentoring_request_not_found"),
        (_path(w, "mentorship_other_life", f"/requests/{uuid.uuid4()}/decision"), approve, 404, "mentoring_request_not_found"),
        (_path(w, "mentorship_student_lab", f"/requests/{w.ids['request_student']}/decision"), approve, 409, "mentoring_request_decided"),
        (f"/mentorships/{uuid.uuid4()}/requests/{w.ids['request_other']}/decision", approve, 404, "mentoring_mentorship_not_found"),
        (other, {"outcome": "maybe", "note": "Agreed."}, 422, "validation_failed"),
        (other, {"outcome": "approved", "note": " "}, 422, "validation_failed"),
    ):
        problem(await call(w, "staff", "POST", path, json=body), status, code)
    assert await _count(w, MentorshipRequest) == before
    assert (await _ok(await call(w, "staff", "GET", _path(w, "mentorship_other_life"))))["pending_request"]["id"] == w.ids["request_other"]
    assert (await _ok(await call(w, "staff", "GET", lab)))["status"] == "active"


async def test_each_reader_sees_only_their_mentorships_with_names_and_the_notes_only_whom_they_concern(w):
    ids = w.ids
    every = {ids["mentorship_student_lab"], ids["mentorship_child_life"], ids["mentorship_other_life"]}

    async def seen(who: str, **params) -> set[str]:
        return {m["id"] for m in await _listed(w, who, **params)}

    assert await seen("mentor") == {ids["mentorship_student_lab"]}  # their mentees only
    assert await seen("student") == {ids["mentorship_student_lab"]}
    assert await seen("guardian") == {ids["mentorship_child_life"]}
    assert await seen("coordinator") == {ids["mentorship_student_lab"], ids["mentorship_child_life"]}  # school A's
    assert every <= await seen("staff") and every <= await seen("admin")
    # The filters narrow what the caller may see, never widen it.
    assert every - {ids["mentorship_student_lab"]} <= await seen("staff", kind="life")
    assert ids["mentorship_student_lab"] not in await seen("staff", kind="life")
    assert await seen("staff", mentor_id=ids["other_mentor"]) == {ids["mentorship_child_life"], ids["mentorship_other_life"]}
    assert await seen("staff", status="paused", mentor_id=ids["other_mentor"]) == {ids["mentorship_other_life"]}
    assert await seen("staff", student_id=ids["child"]) == {ids["mentorship_child_life"]}
    assert every & await seen("staff", pending_request="true") == {ids["mentorship_other_life"]}  # staff's work list
    assert every & await seen("staff", pending_request="false") == every - {ids["mentorship_other_life"]}
    assert await seen("coordinator", pending_request="true") == set()
    assert await seen("mentor", student_id=ids["child"]) == set()
    assert await seen("coordinator", student_id=ids["other_student"]) == set()
    for bad in ({"kind": "both"}, {"status": "over"}, {"mentor_id": "nobody"}, {"limit": 0}, {"pending_request": "yes"}):
        problem(await call(w, "staff", "GET", "/mentorships", params=bad), 422, "validation_failed")
    [child] = await _listed(w, "guardian")
    assert (child["mentor_name"], child["kind"], child["discipline"], child["status"]) == ("李老师", "life", None, "active")
    assert child["student_name"]
    # One by one: what is not the caller's is as unknown as an id that is no one's.
    for who, name in (("mentor", "mentorship_child_life"), ("student", "mentorship_child_life"), ("guardian", "mentorship_student_lab"),
                      ("coordinator", "mentorship_other_life")):
        problem(await call(w, who, "GET", _path(w, name)), 404, "mentoring_mentorship_not_found")
        problem(await call(w, who, "GET", _path(w, name, "/meetings")), 404, "mentoring_mentorship_not_found")
    problem(await call(w, "staff", "GET", f"/mentorships/{uuid.uuid4()}"), 404, "mentoring_mentorship_not_found")

    # The notes: the two, the guardian and staff; a coordinator (and admin) read the meetings without them.
    lab = _path(w, "mentorship_student_lab")
    for who in ("mentor", "student", "staff"):
        assert {m["notes"] for m in await _listed(w, who, f"{lab}/meetings")} == {"Worked through Hall's theorem; practise more proofs."}
    [meeting] = await _listed(w, "guardian", _path(w, "mentorship_child_life", "/meetings"))
    assert meeting["notes"].startswith("Worked through")
    for who in ("coordinator", "admin"):
        meetings = await _listed(w, who, f"{lab}/meetings")
        assert len(meetings) == 2 and all(m["notes"] is None and m["topic"] for m in meetings)
        [request] = await _listed(w, who, f"{lab}/requests")
        assert request["status"] == "declined" and request["reason"] is None and request["note"] is None
        [update] = await _listed(w, who, f"{lab}/goals/{w.ids['goal_student']}/progress")
        assert update["percent"] == 40 and update["note"] is None
    [request] = await _listed(w, "student", f"{lab}/requests")
    assert request["note"] == "The mentor will move meetings to weekends."
    paused = _path(w, "mentorship_other_life")
    assert (await _ok(await call(w, "staff", "GET", paused)))["paused"]["reason"] == "The student is in hospital for a month."
    assert (await _ok(await call(w, "admin", "GET", paused)))["paused"]["reason"] is None


async def test_staff_or_the_mentor_pause_and_resume_with_a_reason_and_the_place_is_kept(w):
    lab = _path(w, "mentorship_student_lab")
    why = "The student sits the zhongkao this month."
    paused = await _ok(await call(w, "mentor", "POST", f"{lab}/pause", json={"reason": why}))
    assert paused["status"] == "paused" and (paused["paused"]["reason"], paused["paused"]["by"]) == (why, w.ids["mentor"])
    assert await _lab_mentees(w) == (1, 0)  # the place is kept
    [entry] = [e for e in await chain.entries(w.tx.session, table=Mentorship.__table__, row_id=uuid.UUID(w.ids["mentorship_student_lab"]))
               if e.kind == "mentorship.paused"]
    assert entry.state["status"] == "paused"
    [pause] = (await w.tx.session.execute(sa.select(MentorshipPause).where(
        MentorshipPause.mentorship_id == uuid.UUID(w.ids["mentorship_student_lab"])))).scalars()
    assert [e.kind for e in await chain.entries(w.tx.session, table=MentorshipPause.__table__, row_id=pause.id)] == ["mentorship_pause.started"]
    # The reason is free text about the student: the two and staff read it, a coordinator the pause without it.
    assert (await _ok(await call(w, "student", "GET", lab)))["paused"]["reason"] == why
    shown = (await _ok(await call(w, "coordinator", "GET", lab)))["paused"]
    assert shown["reason"] is None and shown["since"] == paused["paused"]["since"]
    problem(await call(w, "staff", "POST", f"{lab}/pause", json={"reason": "Again."}), 409, "mentoring_mentorship_not_active")
    problem(await call(w, "student", "POST", f"{lab}/goals", json={"title": "Read a paper"}), 409, "mentoring_mentorship_not_active")
    # A meeting held before the pause may still be logged.
    await _ok(await call(w, "student", "POST", f"{lab}/meetings", json={"held_on": today().isoformat(), "minutes": 45, "topic": "Plan"}), 201)
    for who, path, body, status, code in (
        ("mentor", _path(w, "mentorship_child_life", "/pause"), {"reason": "Not mine."}, 404, "mentoring_mentorship_not_found"),
        ("mentor", f"/mentorships/{uuid.uuid4()}/resume", {"reason": "Unknown."}, 404, "mentoring_mentorship_not_found"),
        ("student", f"{lab}/resume", {"reason": "I am back."}, 403, "forbidden"),
        ("mentor", f"{lab}/resume", {"reason": "  "}, 422, "validation_failed"),
        ("mentor", f"{lab}/resume", {}, 422, "validation_failed"),
    ):
        problem(await call(w, who, "POST", path, json=body), status, code)
    assert (await _ok(await call(w, "staff", "GET", lab)))["status"] == "paused"
    resumed = await _ok(await call(w, "staff", "POST", f"{lab}/resume", json={"reason": "Exams are over."}))
    assert resumed["status"] == "active" and resumed["paused"] is None
    await w.tx.session.refresh(pause)
    assert (pause.resume_reason, pause.resumed_by) == ("Exams are over.", w.ids["staff"])
    problem(await call(w, "mentor", "POST", f"{lab}/resume", json={"reason": "Again."}), 409, "mentoring_mentorship_not_paused")


async def test_meetings_are_logged_by_the_two_on_real_days_and_corrected_by_their_author_only(w):
    lab, child = _path(w, "mentorship_student_lab"), _path(w, "mentorship_child_life")
    meeting = {"held_on": today().isoformat(), "minutes": 60, "topic": "数论：同余", "notes": "Solved three olympiad problems."}
    logged = await _ok(await call(w, "mentor", "POST", f"{lab}/meetings", json=meeting), 201)
    assert (logged["author_id"], logged["minutes"], logged["notes"]) == (w.ids["mentor"], 60, "Solved three olympiad problems.")
    [entry] = await chain.entries(w.tx.session, table=Meeting.__table__, row_id=uuid.UUID(logged["id"]))
    assert entry.kind == "meeting.logged" and entry.state["minutes"] == 60
    started = (await w.tx.session.get(Mentorship, uuid.UUID(w.ids["mentorship_student_lab"]))).started_at.astimezone(CHINA).date()
    before = await _count(w, Meeting)
    for who, path, body, status, code in (
        ("mentor", child, meeting, 404, "mentoring_mentorship_not_found"),  # someone else's mentee: as if unknown
        ("mentor", f"/mentorships/{uuid.uuid4()}", meeting, 404, "mentoring_mentorship_not_found"),
        ("student", child, meeting, 404, "mentoring_mentorship_not_found"),
        ("guardian", child, meeting, 403, "forbidden"),
        ("staff", lab, meeting, 403, "forbidden"),
        ("mentor", lab, {**meeting, "held_on": (today() + timedelta(days=1)).isoformat()}, 422, "mentoring_meeting_date_invalid"),
        ("mentor", lab, {**meeting, "held_on": (started - timedelta(days=1)).isoformat()}, 422, "mentoring_meeting_date_invalid"),
        ("mentor", lab, {**meeting, "minutes": 0}, 422, "validation_failed"),
        ("mentor", lab, {**meeting, "minutes": 601}, 422, "validation_failed"),
        ("mentor", lab, {**meeting, "minutes": -30}, 422, "validation_failed"),
        ("mentor", lab, {**meeting, "minutes": 30.5}, 422, "validation_failed"),
        ("mentor", lab, {**meeting, "minutes": "60"}, 422, "validation_failed"),
        ("mentor", lab, {**meeting, "notes": "a\u0000b"}, 422, "validation_failed"),
        ("mentor", lab, {**meeting, "notes": "长" * 4001}, 422, "validation_failed"),
        ("mentor", lab, {**meeting, "topic": "x" * 201}, 422, "validation_failed"),
        ("mentor", lab, {**meeting, "topic": "   "}, 422, "validation_failed"),
        ("mentor", lab, {**meeting, "held_on": "yesterday"}, 422, "validation_failed"),
        ("mentor", lab, {**meeting, "author_id": w.ids["student"]}, 422, "validation_failed"),
    ):
        problem(await call(w, who, "POST", f"{path}/meetings", json=body), status, code)
    assert await _count(w, Meeting) == before

    # Retried with the same key: the first answer again, one meeting.
    key = {"Idempotency-Key": str(uuid.uuid4())}
    headers = {**w.caller("student").headers, **key}
    once = await w.clients["mentoring"].post(f"{lab}/meetings", json=meeting, headers=headers)
    again = await w.clients["mentoring"].post(f"{lab}/meetings", json=meeting, headers=headers)
    assert once.status_code == again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == once.json() and await _count(w, Meeting) == before + 1

    # Corrected by its author; the other party (and anyone else) may not.
    mine = f"{lab}/meetings/{logged['id']}"
    fixed = await _ok(await call(w, "mentor", "PATCH", mine, json={"minutes": 75, "notes": "Solved four."}))
    assert (fixed["minutes"], fixed["notes"], fixed["topic"], fixed["held_on"]) == (75, "Solved four.", "数论：同余", meeting["held_on"])
    kinds = [e.kind for e in await chain.entries(w.tx.session, table=Meeting.__table__, row_id=uuid.UUID(logged["id"]))]
    assert kinds == ["meeting.logged", "meeting.corrected"]
    for who, path, body, status, code in (
        ("student", mine, {"minutes": 5}, 403, "mentoring_meeting_not_author"),
        ("mentor", f"{lab}/meetings/{w.ids['meeting_child']}", {"minutes": 5}, 404, "mentoring_meeting_not_found"),  # another mentorship's
        ("mentor", f"{lab}/meetings/{uuid.uuid4()}", {"minutes": 5}, 404, "mentoring_meeting_not_found"),
        ("mentor", f"{child}/meetings/{w.ids['meeting_child']}", {"minutes": 5}, 404, "mentoring_mentorship_not_found"),
        ("mentor", mine, {"held_on": (today() + timedelta(days=2)).isoformat()}, 422, "mentoring_meeting_date_invalid"),
        ("mentor", mine, {"minutes": 0}, 422, "validation_failed"),
        ("coordinator", mine, {"minutes": 5}, 403, "forbidden"),
    ):
        problem(await call(w, who, "PATCH", path, json=body), status, code)
    # Nothing to correct (or the same values): the meeting as it is, nothing recorded.
    for body in ({}, {"minutes": None}, {"minutes": 75}):
        assert (await _ok(await call(w, "mentor", "PATCH", mine, json=body))) == fixed
    assert len(await chain.entries(w.tx.session, table=Meeting.__table__, row_id=uuid.UUID(logged["id"]))) == 2
    again = (await _ok(await call(w, "student", "GET", f"{lab}/meetings")))["items"]
    assert [(m["id"], m["minutes"]) for m in again if m["id"] == logged["id"]] == [(logged["id"], 75)]
    # The student corrects their own.
    await _ok(await call(w, "student", "PATCH", f"{lab}/meetings/{w.ids['meeting_student']}", json={"topic": "图论：匹配"}))


async def test_goals_are_set_on_an_active_mentorship_and_their_progress_kept_until_achieved_or_dropped(w):
    lab, child = _path(w, "mentorship_student_lab"), _path(w, "mentorship_child_life")
    target = (today() + timedelta(days=90)).isoformat()
    goal = await _ok(await call(w, "student", "POST", f"{lab}/goals", json={
        "title": "Present the graph colouring project", "description": "At the spring defense.", "target_date": target}), 201)
    assert (goal["status"], goal["progress"], goal["set_by"], goal["target_date"]) == ("open", 0, w.ids["student"], target)
    progress = f"{lab}/goals/{goal['id']}/progress"
    for who, percent in (("mentor", 30), ("student", 20)):  # a step back is an update too
        assert (await _ok(await call(w, who, "POST", progress, json={"percent": percent, "note": f"At {percent} percent."})))["progress"] == percent
    before = (await _count(w, Goal), await _count(w, GoalUpdate))
    for who, path, body, status, code in (
        ("student", f"{lab}/goals", {"title": "Late", "target_date": (today() - timedelta(days=1)).isoformat()}, 422, "mentoring_goal_invalid"),
        ("student", f"{lab}/goals", {"title": ""}, 422, "validation_failed"),
        ("student", f"{lab}/goals", {"title": "t", "description": "d" * 2001}, 422, "validation_failed"),
        ("mentor", f"{child}/goals", {"title": "Not my mentee"}, 404, "mentoring_mentorship_not_found"),
        ("guardian", f"{child}/goals", {"title": "Not a party"}, 403, "forbidden"),
        ("mentor", progress, {"percent": 90, "note": "Nearly.", "status": "achieved"}, 422, "mentoring_goal_invalid"),
        ("mentor", progress, {"percent": 101, "note": "Over."}, 422, "validation_failed"),
        ("mentor", progress, {"percent": -1, "note": "Under."}, 422, "validation_failed"),
        ("mentor", progress, {"percent": 50}, 422, "validation_failed"),
        ("mentor", f"{lab}/goals/{w.ids['goal_child']}/progress", {"percent": 50, "note": "Not this one."}, 404, "mentoring_goal_not_found"),
        ("mentor", f"{lab}/goals/{uuid.uuid4()}/progress", {"percent": 50, "note": "Unknown."}, 404, "mentoring_goal_not_found"),
        ("mentor", f"{child}/goals/{w.ids['goal_child']}/progress", {"percent": 50, "note": "Not mine."}, 404, "mentoring_mentorship_not_found"),
    ):
        problem(await call(w, who, "POST", path, json=body), status, code)
    assert (await _count(w, Goal), await _count(w, GoalUpdate)) == before
    done = await _ok(await call(w, "mentor", "POST", progress, json={"percent": 100, "note": "Defended well.", "status": "achieved"}))
    assert (done["status"], done["progress"]) == ("achieved", 100)
    problem(await call(w, "student", "POST", progress, json={"percent": 100, "note": "Once more."}), 409, "mentoring_goal_closed")
    history = await _listed(w, "student", progress)
    assert [(u["percent"], u["status"], u["made_by"]) for u in history] == [
        (30, "open", w.ids["mentor"]), (20, "open", w.ids["student"]), (100, "achieved", w.ids["mentor"])]
    kinds = [e.kind for e in await chain.entries(w.tx.session, table=Goal.__table__, row_id=uuid.UUID(goal["id"]))]
    assert kinds == ["goal.set", "goal.progressed", "goal.progressed", "goal.achieved"]
    dropped = await _ok(await call(w, "student", "POST", f"{lab}/goals/{w.ids['goal_student']}/progress",
                                   json={"percent": 40, "note": "The topic changed.", "status": "dropped"}))
    assert dropped["status"] == "dropped"
    listed = {g["id"]: g["status"] for g in await _listed(w, "coordinator", f"{lab}/goals")}
    assert listed == {w.ids["goal_student"]: "dropped", goal["id"]: "achieved"}
    assert [g["id"] for g in await _listed(w, "guardian", f"{child}/goals")] == [w.ids["goal_child"]]
    problem(await call(w, "guardian", "GET", f"{lab}/goals"), 404, "mentoring_mentorship_not_found")
    problem(await call(w, "student", "GET", f"{lab}/goals/{w.ids['goal_child']}/progress"), 404, "mentoring_goal_not_found")


async def test_an_exit_ends_the_mentorship_announces_it_once_lapses_the_pending_request_and_a_redelivery_adds_nothing(w):
    s = w.tx.session
    other = uuid.UUID(w.ids["mentorship_other_life"])
    assert await _lab_mentees(w, "other_mentor") == (0, 2)
    exit_ = exited_envelope(w.ids["other_student"])
    await mentors.on_exited(s, exit_)
    [event] = await _ended_events(w, "other_student")
    assert (event.payload["mentorship_id"], event.payload["reason"], event.payload["kind"]) == (str(other), "exited", "life")
    assert await _lab_mentees(w, "other_mentor") == (0, 1)
    body = await _ok(await call(w, "staff", "GET", _path(w, "mentorship_other_life")))
    assert body["status"] == "ended" and body["pending_request"] is None
    request = await s.get(MentorshipRequest, uuid.UUID(w.ids["request_other"]))
    await s.refresh(request)
    assert request.status.value == "lapsed" and request.decided_by == "tracking"
    [pause] = (await s.execute(sa.select(MentorshipPause).where(MentorshipPause.mentorship_id == other))).scalars()
    await s.refresh(pause)
    assert (pause.resume_reason, pause.resumed_by) == ("the mentorship ended", "tracking")
    entries = len(await chain.entries(s, table=Mentorship.__table__, row_id=other))
    # Delivered again: nothing ends, nothing is announced or recorded.
    await mentors.on_exited(s, exit_)
    assert len(await _ended_events(w, "other_student")) == 1
    assert len(await chain.entries(s, table=Mentorship.__table__, row_id=other)) == entries
    problem(await call(w, "staff", "POST", _path(w, "mentorship_other_life", f"/requests/{w.ids['request_other']}/decision"),
                    json={"outcome": "approved", "note": "Too late."}), 409, "mentoring_request_decided")

"""A term of the pilot base through the gateway, with real tokens and real HTTP servers: staff build
the catalogue (a basic course, an extended one that requires it, a second basic course) and a
term of weekend sessions with three sections, one of them at a partner school; a registration
window whose groups open in turn (research students, then grade 9 and up, then everyone); a
student refused before their group opens and a time conflict refused with its rule; a one-seat
section filling and its waitlist in order; a drop offering the seat, claimed; another offer left
to expire (the clock moved past its claim deadline) and passed on to the next student; each person
seeing only their rows; a course exemption (免修) approved, meeting the extended course's
prerequisite; two grade skips (跳级): one through the coordinator, staff and admin, its approval
reaching a consumer in another process, the other refused at the second level; and, the term
begun, attendance taken by the teacher and a final result completing the course
(`courses.course.completed` published once).

The services run in this process on a clock set three days back and moved forward as the story
needs; the other process reads the events on the real clock."""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack
from datetime import date, datetime, timedelta

import httpx
import sqlalchemy as sa

from services.courses.app import create_app as courses_app
from services.courses.settings import CoursesSettings
from shared import clock
from shared.db import create_engine
from shared.events.contracts.selection import CandidateAdmitted
from tests.conftest import fresh_database
from tests.stories import consumer_process, eventually, gateway_and, publish_events

EVIDENCE = {"evidence_kind": "competition_award", "evidence": "2026 全国中学生数学奥林匹克竞赛（福建赛区）一等奖",
            "links": ["https://example.org/cmo/2026/results"]}
# The students: name -> (grade, the stage they were admitted at). r0 is a research student (admitted at the high-school stage).
STUDENTS = {"r0": (10, "high"), "n1": (9, "middle"), "e2": (8, "middle"), "e3": (8, "middle")}


def _saturday_after(day: date) -> date:
    return day + timedelta(days=(5 - day.weekday()) % 7 or 7)


async def test_a_term_from_the_catalogue_to_offers_exemptions_and_grade_skips(server_url, worker_id, tmp_path):
    async with fresh_database(server_url, worker_id) as url, AsyncExitStack() as stack:
        people, admin, staff = await gateway_and(stack, url, "courses", courses_app, CoursesSettings, days_back=3)
        delivered = consumer_process(stack, url, tmp_path / "grade_skips.txt", "courses.grade_skip.approved", "student_id", "from_grade", "to_grade")
        http = people.http
        cou = "/api/courses"

        async def ok(r: httpx.Response, status: int = 200) -> dict:
            assert r.status_code == status, r.text
            return r.json()

        async def refused(r: httpx.Response, status: int, code: str) -> dict:
            assert r.status_code == status and r.headers["content-type"].startswith("application/problem+json"), r.text
            assert r.json()["code"] == code, r.text
            return r.json()

        school = (await ok(await http.post("/identity/schools", json={"name": "第一中学", "district": "思明区", "level": "middle"},
                                           headers=admin), 201))["id"]
        other = (await ok(await http.post("/identity/schools", json={"name": "第二中学", "district": "湖里区", "level": "middle"},
                                          headers=admin), 201))["id"]
        ids = {name: await people.user(name, ["student"], f"{name}同学", school_id=school, grade=grade, birth_date="2011-05-01")
               for name, (grade, _) in STUDENTS.items()}
        ids["coord"] = await people.user("coord", ["coordinator"], "第一中学联络人", school_id=school)
        ids["coord2"] = await people.user("coord2", ["coordinator"], "第二中学联络人", school_id=other)
        ids["teacher"] = await people.user("teacher", ["mentor"], "王老师")
        ids["g3"] = await people.user("g3", ["guardian"], "e3的家长")
        await ok(await http.put(f"/identity/students/{ids['e3']}/guardians/{ids['g3']}", json={"relation": "father"}, headers=admin), 201)
        tokens = {name: await people.login(name) for name in ids}

        # Selection admits the four (r0 at the high-school stage: a research student).
        await publish_events(url, [("selection.candidate.admitted", "selection", CandidateAdmitted(
            candidate_id=uuid.uuid4(), campaign_id=uuid.uuid4(), student_id=uuid.UUID(ids[name]), discipline="math", cohort_year=2027,
            school_id=uuid.UUID(school), grade=grade, stage=stage, rank=i + 1, decided_at=clock.now()))
            for i, (name, (grade, stage)) in enumerate(STUDENTS.items())])

        # The catalogue: a basic course, an extended one requiring it, and a second basic course.
        async def course(code: str, title: str, kind: str, prerequisites: list[str] = ()) -> str:
            return (await ok(await http.post(f"{cou}/courses", headers=staff, json={
                "code": code, "title": title, "type": kind, "discipline": "math", "level": 2, "min_grade": 7, "max_grade": 12,
                "prerequisites": list(prerequisites), "hours": 32, "description": f"{title}：周末课程。"}), 201))["id"]

        basic = await course("MATH-B101", "数论初步", "basic")
        extended = await course("MATH-E201", "数论进阶", "extended", [basic])
        geometry = await course("MATH-B102", "平面几何", "basic")
        first_saturday = _saturday_after(clock.today() + timedelta(days=20))
        term = (await ok(await http.post(f"{cou}/terms", headers=staff, json={
            "title": "2027 春季学期", "starts_on": first_saturday.isoformat(), "ends_on": (first_saturday + timedelta(days=60)).isoformat(),
            "load_limit": 3, "blocks": [{"kind": "weekends", "starts_on": first_saturday.isoformat(),
                                         "ends_on": (first_saturday + timedelta(days=56)).isoformat()}]}), 201))
        block = term["blocks"][0]["id"]

        async def section(course_id: str, code: str, capacity: int, starts: str, ends: str, **host) -> dict:
            return await ok(await http.post(f"{cou}/sections", headers=staff, json={
                "course_id": course_id, "term_id": term["id"], "code": code, "host_kind": "base", "teacher_id": ids["teacher"],
                "place": "泉州五中 科学楼 301", "capacity": capacity,
                "weekly": [{"block_id": block, "weekday": "saturday", "starts": starts, "ends": ends}], **host}), 201)

        seat = await section(basic, "周六上午班", 1, "09:00", "11:00")
        clash = await section(geometry, "周六上午班", 10, "10:00", "12:00", host_kind="school", host_id=other, place="第二中学 实验楼 202")
        later = await section(extended, "周六下午班", 10, "14:00", "16:00")
        assert seat["teacher_name"] == "王老师" and len(seat["meetings"]) == 9 and clash["host_name"] == "第二中学", (seat, clash)

        now = clock.now()
        await ok(await http.post(f"{cou}/registration-windows", headers=staff, json={
            "term_id": term["id"], "closes_at": (now + timedelta(days=10)).isoformat(), "drop_deadline": (now + timedelta(days=15)).isoformat(),
            "claim_hours": 24, "groups": [
                {"label": "研究型学生", "opens_at": (now + timedelta(hours=1)).isoformat(), "research_only": True},
                {"label": "九年级及以上", "opens_at": (now + timedelta(hours=2)).isoformat(), "min_grade": 9},
                {"label": "全体学生", "opens_at": (now + timedelta(hours=3)).isoformat()}]}), 201)

        async def register(name: str, section_id: str, status: int = 201) -> dict:
            return await ok(await http.post(f"{cou}/registrations", headers={**tokens[name], "Idempotency-Key": str(uuid.uuid4())},
                                            json={"section_id": section_id}), status)

        async def admitted() -> bool:
            r = await http.post(f"{cou}/registrations", headers=tokens["r0"], json={"section_id": seat["id"]})
            assert r.json()["code"] in ("courses_not_in_programme", "courses_window_not_open"), r.text
            return r.json()["code"] == "courses_window_not_open"

        await eventually(admitted, "the admissions reach courses")
        # Each group opens in its turn; before that, the time it opens.
        body = await refused(await http.post(f"{cou}/registrations", headers=tokens["r0"], json={"section_id": seat["id"]}),
                             409, "courses_window_not_open")
        assert "研究型学生" in body["detail"], body
        clock.get_clock().advance(hours=1)
        assert (await register("r0", seat["id"]))["status"] == "confirmed"
        body = await refused(await http.post(f"{cou}/registrations", headers=tokens["r0"], json={"section_id": clash["id"]}),
                             409, "courses_time_conflict")
        assert seat["id"] in body["detail"], body
        await refused(await http.post(f"{cou}/registrations", headers=tokens["n1"], json={"section_id": seat["id"]}),
                      409, "courses_window_not_open")
        clock.get_clock().advance(hours=1)
        n1 = await register("n1", seat["id"])
        clock.get_clock().advance(hours=1)
        e2 = await register("e2", seat["id"])
        clock.get_clock().advance(seconds=1)
        e3 = await register("e3", seat["id"])
        assert [(x["status"], x["position"]) for x in (n1, e2, e3)] == [("waitlisted", 1), ("waitlisted", 2), ("waitlisted", 3)]
        # The extended course waits for its prerequisite.
        body = await refused(await http.post(f"{cou}/registrations", headers=tokens["r0"], json={"section_id": later["id"]}),
                             422, "courses_prerequisite_missing")
        assert basic in body["detail"], body

        # Who sees what: a student their own, a guardian their child's, a coordinator their school's.
        mine = (await ok(await http.get(f"{cou}/registrations", headers=tokens["e2"])))["items"]
        assert [(x["id"], x["position"]) for x in mine] == [(e2["id"], 2)], mine
        await refused(await http.get(f"{cou}/registrations/{e3['id']}", headers=tokens["e2"]), 404, "courses_registration_not_found")
        childs = (await ok(await http.get(f"{cou}/registrations", headers=tokens["g3"])))["items"]
        assert [x["id"] for x in childs] == [e3["id"]], childs
        assert (await ok(await http.get(f"{cou}/registrations", headers=tokens["g3"], params={"student_id": ids["e2"]})))["items"] == []
        school_rows = (await ok(await http.get(f"{cou}/registrations", headers=tokens["coord"], params={"limit": 50})))["items"]
        assert len(school_rows) == 4 and (await ok(await http.get(f"{cou}/registrations", headers=tokens["coord2"])))["items"] == []
        r = await http.post(f"{cou}/registrations", headers=tokens["g3"], json={"section_id": seat["id"], "student_id": ids["e3"]})
        assert r.status_code == 403, r.text

        # r0 drops: the seat is offered to n1 (the first waitlisted), who claims it.
        r0_seat = (await ok(await http.get(f"{cou}/registrations", headers=tokens["r0"])))["items"][0]
        assert (await ok(await http.post(f"{cou}/registrations/{r0_seat['id']}/drop", headers=tokens["r0"])))["status"] == "dropped"
        offered = await ok(await http.get(f"{cou}/registrations/{n1['id']}", headers=tokens["n1"]))
        assert offered["status"] == "offered" and offered["offer"]["claim_by"], offered
        assert (await ok(await http.get(f"{cou}/registrations/{e2['id']}", headers=tokens["e2"])))["position"] == 1
        claimed = await ok(await http.post(f"{cou}/offers/{offered['offer']['id']}/claim", headers=tokens["n1"]))
        assert claimed["status"] == "confirmed", claimed
        await refused(await http.post(f"{cou}/offers/{offered['offer']['id']}/claim", headers=tokens["n1"]), 409, "courses_offer_closed")

        # n1 drops too: the offer goes to e2, who lets it run out; the timer passes it to e3.
        await ok(await http.post(f"{cou}/registrations/{n1['id']}/drop", headers=tokens["n1"]))
        e2_offer = (await ok(await http.get(f"{cou}/registrations/{e2['id']}", headers=tokens["e2"])))["offer"]
        assert e2_offer is not None
        clock.get_clock().advance(hours=24, seconds=1)
        await refused(await http.post(f"{cou}/offers/{e2_offer['id']}/claim", headers=tokens["e2"]), 409, "courses_offer_expired")

        async def passed_on() -> dict | None:
            e3_now = await ok(await http.get(f"{cou}/registrations/{e3['id']}", headers=tokens["g3"]))
            return e3_now if e3_now["status"] == "offered" else None

        e3_now = await eventually(passed_on, "the expired offer passes to the next student")
        assert (await ok(await http.get(f"{cou}/registrations/{e2['id']}", headers=tokens["e2"])))["status"] == "expired"
        assert (await ok(await http.post(f"{cou}/offers/{e3_now['offer']['id']}/claim", headers=tokens["e3"])))["status"] == "confirmed"
        seats = (await ok(await http.get(f"{cou}/sections/{seat['id']}", headers=staff)))
        assert (seats["capacity"], seats["taken"], seats["seats_left"]) == (1, 1, 0), seats

        # A course exemption (免修) for r0, approved by staff: the basic course is completed, the extended one open.
        applied = await ok(await http.post(f"{cou}/exemptions", headers=tokens["r0"], json={"course_id": basic, "kind": "course", **EVIDENCE}), 201)
        await refused(await http.post(f"{cou}/exemptions/{applied['id']}/decision", headers=tokens["coord"],
                                      json={"outcome": "approved", "reason": "Not mine to decide."}), 403, "forbidden")
        decided = await ok(await http.post(f"{cou}/exemptions/{applied['id']}/decision", headers=staff,
                                           json={"outcome": "approved", "reason": "The olympiad award covers the whole course."}))
        assert decided["status"] == "approved", decided
        assert (await register("r0", later["id"]))["status"] == "confirmed"

        # e2's grade skip (8 -> 9): coordinator, staff, admin in this order, each with a reason.
        skip = await ok(await http.post(f"{cou}/grade-skips", headers=tokens["e2"], json={"to_grade": 9, **EVIDENCE}), 201)

        async def decide(who: dict, level: str, outcome: str = "approved", application: str = skip["id"]) -> httpx.Response:
            return await http.post(f"{cou}/grade-skips/{application}/decisions", headers=who,
                                   json={"level": level, "outcome": outcome, "reason": f"The {level} level has read the evidence."})

        await refused(await decide(admin, "admin"), 409, "courses_grade_skip_out_of_order")
        await refused(await decide(tokens["coord2"], "coordinator"), 403, "courses_grade_skip_wrong_school")
        assert [x["id"] for x in (await ok(await http.get(f"{cou}/grade-skips/queue", headers=tokens["coord"])))["items"]] == [skip["id"]]
        await ok(await decide(tokens["coord"], "coordinator"))
        await refused(await decide(tokens["coord"], "staff"), 403, "courses_grade_skip_level_not_yours")
        await ok(await decide(staff, "staff"))
        granted = await ok(await decide(admin, "admin"))
        assert granted["status"] == "approved" and [d["level"] for d in granted["decisions"]] == ["coordinator", "staff", "admin"], granted

        async def approvals() -> list[str]:
            return delivered()

        assert await eventually(approvals, "the approval reaches a consumer in another process") == [f"{ids['e2']} 8 9"]

        # e3's, applied by the guardian (8 -> 10), refused by staff: it ends there.
        second = await ok(await http.post(f"{cou}/grade-skips", headers=tokens["g3"], json={"student_id": ids["e3"], "to_grade": 10, **EVIDENCE}), 201)
        await ok(await decide(tokens["coord"], "coordinator", application=second["id"]))
        ended = await ok(await decide(staff, "staff", "refused", application=second["id"]))
        assert ended["status"] == "refused", ended
        await refused(await decide(admin, "admin", application=second["id"]), 409, "courses_application_decided")
        seen = await ok(await http.get(f"{cou}/grade-skips/{second['id']}", headers=tokens["g3"]))
        assert [(d["level"], d["outcome"]) for d in seen["decisions"]] == [("coordinator", "approved"), ("staff", "refused")], seen
        await refused(await http.get(f"{cou}/grade-skips/{second['id']}", headers=tokens["e2"]), 404, "courses_grade_skip_not_found")
        assert delivered() == [f"{ids['e2']} 8 9"]

        # The term runs: the teacher takes attendance at the first meeting and records e3's final result; a pass completes the course.
        meeting = seat["meetings"][0]
        clock.get_clock().set(datetime.fromisoformat(meeting["starts_at"]) + timedelta(hours=3))
        attendance = {"students": [{"student_id": ids["e3"], "status": "present"}]}
        r = await http.put(f"{cou}/sections/{seat['id']}/meetings/{meeting['id']}/attendance", headers=tokens["e3"], json=attendance)
        assert r.status_code == 403, r.text
        await ok(await http.put(f"{cou}/sections/{seat['id']}/meetings/{meeting['id']}/attendance", headers=tokens["teacher"], json=attendance))
        seen = (await ok(await http.get(f"{cou}/attendance", headers=tokens["g3"])))["items"]
        assert [(x["student_id"], x["status"]) for x in seen] == [(ids["e3"], "present")], seen
        result = await ok(await http.put(f"{cou}/sections/{seat['id']}/results/{ids['e3']}", headers=tokens["teacher"], json={"grade": 92.5}))
        assert (result["outcome"], result["completed"]) == ("pass", True), result
        assert [x["id"] for x in (await ok(await http.get(f"{cou}/results", headers=tokens["g3"])))["items"]] == [result["id"]]
        assert (await ok(await http.get(f"{cou}/results", headers=tokens["e2"])))["items"] == []

        # Published with the change, once (its timestamp is the moved clock's, so read here rather than by a consumer on the real one).
        engine = create_engine(url)
        stack.push_async_callback(engine.dispose)
        async with engine.connect() as conn:
            published = (await conn.execute(sa.text(
                "SELECT payload->>'student_id', payload->>'course_id' FROM events.event WHERE type = 'courses.course.completed'"))).all()
        assert [tuple(p) for p in published] == [(ids["e3"], basic)]

        verified = await ok(await http.get(f"{cou}/record/verify", headers=admin))
        assert verified["ok"] is True, verified

"""A cohort's mentors through the gateway, with real tokens and real HTTP servers: six students
admitted in math (the admitted events as selection publishes them), six mentors registered
(a school teacher who teaches one of the students declares it), a lab round in which the students
rank their mentors and one mentor ranks their applicants, a run drafted, a pair banned and one
forced (the stability it gave up named), the run published once, a life round balanced, the
assignment events reaching a consumer in another process, each person seeing only their rows, a
meeting logged (not by another mentor), a team's research project defended before a proposed
panel and scored on a rubric, and an exit ending the student's mentorships and freeing the places.

The services run in this process on a clock set three days back, so the rounds' windows close by
moving it to the present; the other process reads the events on the real clock."""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


from services.mentoring.app import create_app as mentoring_app
from services.mentoring.settings import MentoringSettings
from shared import clock
from shared.events.contracts.selection import CandidateAdmitted
from shared.events.contracts.tracking import StudentExited
from tests.conftest import fresh_database
from tests.stories import consumer_process, eventually, gateway_and, publish_events

STUDENTS = 6
# Lab mentors in math, two places each: a professor, a researcher, the school's teacher who teaches s3,
# and an engineer no student ranks (a judge of the defense).
LAB = {"mA": "professor", "mB": "researcher", "mC": "teacher", "mD": "engineer"}
LIFE = ("mL1", "mL2")
# Each student's list (first choice first); mA ranks their applicants s2, s0, s1 (s4 left out);
# mB and mC take theirs in the round's default order (the admission's rank: s0 first).
LISTS = {0: ["mA", "mB"], 1: ["mA", "mC"], 2: ["mA", "mB"], 3: ["mC", "mB"], 4: ["mB", "mA"], 5: ["mC"]}


async def test_a_cohorts_mentors_from_the_admitted_events_to_an_exit(server_url, worker_id, tmp_path):
    async with fresh_database(server_url, worker_id) as url, AsyncExitStack() as stack:
        people, admin, staff = await gateway_and(stack, url, "mentoring", mentoring_app, MentoringSettings, days_back=3)
        lines = consumer_process(stack, url, tmp_path / "assigned.txt", "mentoring.mentor.assigned", "student_id", "mentor_id", "kind")
        http = people.http
        men = "/api/mentoring"

        async def user(username: str, roles: list[str], **extra) -> str:
            return await people.user(username, roles, f"{username}同学" if "student" in roles else f"{username}老师", **extra)

        school = (await http.post("/identity/schools", json={"name": "第一中学", "district": "思明区", "level": "middle"}, headers=admin)).json()["id"]
        students = [await user(f"s{i}", ["student"], school_id=school, grade=7 + i % 2, birth_date="2012-05-01") for i in range(STUDENTS)]
        guardian = await user("g0", ["guardian"])
        r = await http.put(f"/identity/students/{students[0]}/guardians/{guardian}", json={"relation": "mother"}, headers=admin)
        assert r.status_code in (200, 201), r.text
        mentors = {name: await user(name, ["mentor"], **({"school_id": school} if kind == "teacher" else {})) for name, kind in LAB.items()}
        mentors |= {name: await user(name, ["mentor"]) for name in LIFE}
        tokens = {name: await people.login(name) for name in [*mentors, *(f"s{i}" for i in range(STUDENTS)), "g0"]}

        # Selection admits the six in math (their ranks 1..6).
        now = clock.now()
        await publish_events(url, [("selection.candidate.admitted", "selection", CandidateAdmitted(
            candidate_id=uuid.uuid4(), campaign_id=uuid.uuid4(), student_id=uuid.UUID(s), discipline="math", cohort_year=2027,
            school_id=uuid.UUID(school), grade=7 + i % 2, stage="middle", rank=i + 1, decided_at=now)) for i, s in enumerate(students)])

        async def registered() -> bool:
            for name, person in mentors.items():
                entry = ({"kind": "lab", "type": LAB[name], "affiliation": "厦门大学数学科学学院" if name != "mC" else "第一中学",
                          "disciplines": ["math"], "topics": ["组合数学"], "lab_capacity": 2} if name in LAB else
                         {"kind": "life", "type": "engineer", "affiliation": "市软件园", "life_capacity": 4})
                r = await http.put(f"{men}/mentors/{person}", json=entry, headers=staff)
                if r.status_code != 200:
                    assert r.json()["code"] == "mentoring_not_a_mentor", r.text  # not in the read model yet
                    return False
            return True

        await eventually(registered, "the six mentors are registered")

        async def needs_open() -> list[dict]:
            r = await http.get(f"{men}/needs", params={"limit": 100}, headers=staff)
            return r.json()["items"] if len(r.json()["items"]) == 2 * STUDENTS else []

        needs = await eventually(needs_open, "the admissions open a lab and a life need each")
        lab_need = {n["student_id"]: n["id"] for n in needs if n["kind"] == "lab"}
        window = {"cohort_year": 2027, "opens_at": (now - timedelta(hours=1)).isoformat(), "closes_at": (now + timedelta(days=1)).isoformat()}
        r = await http.post(f"{men}/rounds", json={"kind": "lab", "title": "2027 lab mentors", **window}, headers=staff)
        assert r.status_code == 201, r.text
        lab_round = r.json()["id"]
        r = await http.post(f"{men}/rounds", json={"kind": "life", "title": "2027 life mentors", **window}, headers=staff)
        life_round = r.json()["id"]

        for i, names in LISTS.items():
            mine = (await http.get(f"{men}/needs", params={"kind": "lab"}, headers=tokens[f"s{i}"])).json()["items"]
            assert [n["student_id"] for n in mine] == [students[i]]
            r = await http.put(f"{men}/rounds/{lab_round}/preferences/{mine[0]['id']}", headers=tokens[f"s{i}"],
                               json={"mentors": [mentors[m] for m in names]})
            assert r.status_code == 200, r.text
        # The school's teacher finds they teach s3 this term, after s3 ranked them: the run will not pair them.
        r = await http.post(f"{men}/mentors/{mentors['mC']}/conflicts", headers=tokens["mC"],
                            json={"student_id": students[3], "kind": "taught", "reason": "I teach s3 mathematics this term."})
        assert r.status_code == 201, r.text
        r = await http.put(f"{men}/rounds/{lab_round}/preferences/{lab_need[students[3]]}", headers=tokens["s3"],
                           json={"mentors": [mentors["mC"]]})
        assert r.status_code == 422 and r.json()["code"] == "mentoring_mentor_conflicted", r.text
        r = await http.get(f"{men}/rounds/{lab_round}/preferences/{lab_need[students[3]]}", headers=tokens["s3"])
        assert [m["mentor_id"] for m in r.json()["mentors"]] == [mentors["mC"], mentors["mB"]], r.text  # the list as it was
        # s4 cannot write s3's list.
        r = await http.put(f"{men}/rounds/{lab_round}/preferences/{lab_need[students[3]]}", headers=tokens["s4"], json={"mentors": []})
        assert r.status_code == 404, r.text
        # mA sees the places naming them, and ranks those students.
        r = await http.get(f"{men}/rounds/{lab_round}/preferences", headers=tokens["mA"])
        assert {p["student_id"] for p in r.json()["items"]} == {students[i] for i in (0, 1, 2, 4)}, r.text
        r = await http.put(f"{men}/rounds/{lab_round}/rankings/{mentors['mA']}", headers=tokens["mA"],
                           json={"needs": [lab_need[students[i]] for i in (2, 0, 1)]})
        assert r.status_code == 200, r.text
        r = await http.post(f"{men}/rounds/{lab_round}/runs", headers=staff)
        assert r.status_code == 409 and r.json()["code"] == "mentoring_window_open", r.text

        # The window closes.
        clock.get_clock().set(datetime.now(UTC))
        by_name = {v: k for k, v in mentors.items()} | {s: f"s{i}" for i, s in enumerate(students)}

        async def pairs(run_id: str) -> dict[str, str | None]:
            r = await http.get(f"{men}/rounds/{lab_round}/runs/{run_id}/entries", headers=staff)
            return {by_name[e["student_id"]]: by_name.get(e["mentor_id"]) for e in r.json()["items"]}

        r = await http.post(f"{men}/rounds/{lab_round}/runs", headers=staff)
        assert r.status_code == 201 and r.json()["given_up"] == [] and r.json()["matched"] == 6, r.text
        # s1 lost mA to s2 and s0 (whom mA ranks higher); s3's first choice teaches them.
        assert await pairs(r.json()["id"]) == {"s0": "mA", "s1": "mC", "s2": "mA", "s3": "mB", "s4": "mB", "s5": "mC"}
        first = r.json()["id"]
        r = await http.put(f"{men}/rounds/{lab_round}/overrides/{lab_need[students[0]]}/{mentors['mA']}", headers=staff,
                           json={"action": "ban", "reason": "mA supervises s0's sibling's project; the bureau asks to keep them apart."})
        assert r.status_code == 200, r.text
        r = await http.put(f"{men}/rounds/{lab_round}/overrides/{lab_need[students[4]]}/{mentors['mA']}", headers=staff,
                           json={"action": "force", "reason": "s4's project continues mA's laboratory work from the summer camp."})
        assert r.status_code == 200, r.text
        draft = r.json()
        assert draft["number"] == 3 and draft["matched"] == 6
        # The forced pair holds mA's place that s1 (whom mA ranks above s4) would have had.
        assert [(by_name[g["student_id"]], by_name[g["mentor_id"]], g["forced"]) for g in draft["given_up"]] == [("s1", "mA", False)]
        assert await pairs(draft["id"]) == {"s0": "mB", "s1": "mC", "s2": "mA", "s3": "mB", "s4": "mA", "s5": "mC"}
        entries = (await http.get(f"{men}/rounds/{lab_round}/runs/{draft['id']}/entries", headers=staff)).json()["items"]
        s3 = next(e for e in entries if e["student_id"] == students[3])
        assert s3["explanation"]["passed"][0]["reason"] == "banned" and "conflict" in s3["explanation"]["passed"][0]["rule"]
        s4 = next(e for e in entries if e["student_id"] == students[4])
        assert s4["decision"] == "forced" and "summer camp" in s4["explanation"]["decided_by"]

        r = await http.post(f"{men}/rounds/{lab_round}/runs/{first}/publish", headers=staff)
        assert r.status_code == 409 and r.json()["code"] == "mentoring_run_superseded", r.text
        r = await http.post(f"{men}/rounds/{lab_round}/runs/{draft['id']}/publish", headers=staff)
        assert r.status_code == 200 and r.json()["status"] == "published", r.text
        r = await http.post(f"{men}/rounds/{lab_round}/runs/{draft['id']}/publish", headers=staff)
        assert r.status_code == 409 and r.json()["code"] == "mentoring_run_published", r.text

        r = await http.post(f"{men}/rounds/{life_round}/runs", headers=staff)
        assert r.status_code == 201 and r.json()["matched"] == 6 and r.json()["figures"]["spread"] == 0, r.text
        assert (await http.post(f"{men}/rounds/{life_round}/runs/{r.json()['id']}/publish", headers=staff)).status_code == 200

        expected = {(students[i], mentors[m], "lab") for i, m in enumerate(["mB", "mC", "mA", "mB", "mA", "mC"])}

        async def delivered():
            got = {tuple(line.split()) for line in lines()}
            return {g for g in got if g[2] == "lab"} == expected and len([g for g in got if g[2] == "life"]) == STUDENTS

        await eventually(delivered, "the twelve assignment events reach the consumer in another process")

        # Each person sees their rows: a mentor their mentees, a student and a guardian the student's.
        r = await http.get(f"{men}/needs", params={"kind": "lab"}, headers=tokens["mA"])
        assert {n["student_id"] for n in r.json()["items"]} == {students[2], students[4]}, r.text
        for who, sees in (("s0", {students[0]}), ("g0", {students[0]}), ("mA", {students[2], students[4]})):
            r = await http.get(f"{men}/rounds/{lab_round}/runs/{draft['id']}/entries", headers=tokens[who])
            assert {e["student_id"] for e in r.json()["items"]} == sees, (who, r.text)
        r = await http.get(f"{men}/rounds/{lab_round}/runs/{first}", headers=tokens["s0"])
        assert r.status_code == 404 and r.json()["code"] == "mentoring_run_not_found", r.text

        # s0's lab mentor logs a meeting; another mentor cannot log one for s0. The guardian reads it.
        [s0_lab] = (await http.get(f"{men}/mentorships", params={"student_id": students[0], "kind": "lab"}, headers=tokens["mB"])).json()["items"]
        mine = (await http.get(f"{men}/mentorships", headers=tokens["s1"])).json()["items"]
        assert sorted((m["student_id"], m["kind"]) for m in mine) == [(students[1], "lab"), (students[1], "life")]
        meeting = {"held_on": datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat(), "minutes": 60, "topic": "组合数学：鸽巢原理",
                   "notes": "Read the first chapter; bring two problems next week."}
        r = await http.post(f"{men}/mentorships/{s0_lab['id']}/meetings", json=meeting, headers=tokens["mA"])
        assert r.status_code == 404 and r.json()["code"] == "mentoring_mentorship_not_found", r.text
        r = await http.post(f"{men}/mentorships/{s0_lab['id']}/meetings", json=meeting, headers=tokens["mB"])
        assert r.status_code == 201, r.text
        r = await http.get(f"{men}/mentorships/{s0_lab['id']}/meetings", headers=tokens["g0"])
        assert [(m["topic"], m["notes"]) for m in r.json()["items"]] == [(meeting["topic"], meeting["notes"])], r.text

        # s2 and s4, mA's mentees, defend their project before a proposed panel (never mA), scored on the rubric.
        r = await http.post(f"{men}/projects", headers=tokens["mA"], json={
            "title": "多米诺骨牌铺砌的计数", "abstract": "Counting domino tilings of the Aztec diamond, and why the answer is a power of two.",
            "discipline": "math", "members": [students[2], students[4]]})
        assert r.status_code == 201, r.text
        project = r.json()["id"]
        r = await http.post(f"{men}/projects/{project}/defenses", headers=staff, json={
            "starts_at": (clock.now() + timedelta(hours=1)).isoformat(), "place": "基地报告厅", "pass_mark": 60, "rubric": {"criteria": [
                {"key": "method", "title": "研究方法", "weight": 3, "min": 0, "max": 10},
                {"key": "presentation", "title": "答辩表现", "weight": 2, "min": 0, "max": 10}]}})
        assert r.status_code == 201, r.text
        defense = r.json()["id"]
        r = await http.put(f"{men}/defenses/{defense}/panel", json={"judges": [mentors["mA"], mentors["mB"], mentors["mC"]]}, headers=staff)
        assert r.status_code == 422 and r.json()["code"] == "mentoring_judge_not_eligible", r.text
        r = await http.put(f"{men}/defenses/{defense}/panel", json={"size": 3}, headers=staff)
        assert r.status_code == 200 and set(r.json()["judges"]) == {mentors[m] for m in ("mB", "mC", "mD")}, r.text
        scores = {"mB": (8, 7), "mC": (9, 8), "mD": (7, 7)}  # weighted totals 76, 86, 70
        r = await http.put(f"{men}/defenses/{defense}/scores", json={"scores": {"method": 8, "presentation": 7}}, headers=tokens["mB"])
        assert r.status_code == 409 and r.json()["code"] == "mentoring_defense_not_started", r.text
        clock.get_clock().advance(hours=1)
        for name, (method, presentation) in scores.items():
            r = await http.put(f"{men}/defenses/{defense}/scores", json={"scores": {"method": method, "presentation": presentation}},
                               headers=tokens[name])
            assert r.status_code == 200, r.text
        r = await http.post(f"{men}/defenses/{defense}/decision", json={"note": "A clear method; the bound needs a proof."}, headers=staff)
        assert r.status_code == 200 and (r.json()["result"], round(r.json()["score"], 2)) == ("passed", 77.33), r.text
        r = await http.post(f"{men}/defenses/{defense}/decision", json={"note": "Again."}, headers=staff)
        assert r.status_code == 409 and r.json()["code"] == "mentoring_defense_decided", r.text
        seen = (await http.get(f"{men}/defenses/{defense}", headers=tokens["s4"])).json()
        assert seen["result"] == "passed", seen
        r = await http.get(f"{men}/defenses/{defense}", headers=tokens["s1"])
        assert r.status_code == 404, r.text

        # s0 leaves the programme: both mentorships end, mB and their life mentor have a place again.
        assert (await http.get(f"{men}/mentors/{mentors['mB']}", headers=staff)).json()["lab_mentees"] == 2
        await publish_events(url, [("tracking.student.exited", "tracking", StudentExited(
            student_id=uuid.UUID(students[0]), reason="voluntary", exited_at=datetime.now(UTC)))])

        async def freed() -> bool:
            r = await http.get(f"{men}/mentors/{mentors['mB']}", headers=staff)
            return r.json()["lab_mentees"] == 1

        await eventually(freed, "the exit frees mB's place")
        r = await http.get(f"{men}/needs", params={"student_id": students[0], "open": "false"}, headers=staff)
        assert {n["closed_at"] is not None and n["mentor_id"] is None for n in r.json()["items"]} == {True}, r.text
        verified = (await http.get(f"{men}/record/verify", headers=admin)).json()
        assert verified["ok"] is True, verified

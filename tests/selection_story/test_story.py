"""A year's selection through the gateway with real tokens and real HTTP servers: 10 schools, 200
candidates (both kinds of nomination, three merged, one withdrawn), a bad scores file refused
whole, the tests uploaded, nine experts (three of them principals of the schools) registered,
the interview panels previewed and assigned automatically, one edited by hand (a conflicted
expert refused), every panel scoring on the rubric with one severe expert and one panel
disagreeing, the severity found and corrected, the disagreement adjudicated, the ranking,
decisions (one against the ranking), publication, an objection answered, the final results,
and the admitted events reaching a consumer that runs in another process.

The services run in this process on a clock set nine days back, so the seven-day objection
window can close by moving it to the present; the other process reads the final events on the
real clock."""

from __future__ import annotations

import asyncio
import io
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime

from openpyxl import Workbook

from services.selection.app import create_app as selection_app
from services.selection.settings import SelectionSettings
from shared import clock
from tests.conftest import fresh_database
from tests.identity.factories import id_number
from tests.stories import PASSWORD, consumer_process, eventually, gateway_and

SCHOOLS, IMPORTED = 10, 19
# The experts: three principals (of the first three schools), three professors, three researchers.
EXPERTS = [("principal", 0), ("principal", 1), ("principal", 2), *[("professor", None)] * 3, *[("researcher", None)] * 3]
SEVERE = 3  # the first professor gives one point less on every criterion
RUBRIC = {"criteria": [
    {"key": "reasoning", "title": "推理与论证", "weight": 3, "min": 0, "max": 10},
    {"key": "creativity", "title": "创新思维", "weight": 2, "min": 0, "max": 10},
]}


def _sheet(school: int) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "身份证号", "年级", "监护人姓名", "监护人电话", "关系"])
    for i in range(IMPORTED):
        born = date(2012 + i % 3, 1 + i % 12, 1 + i % 28)
        sheet.append([f"学生{school}{i:02d}", id_number(born, region="350203", seq=school * 50 + i), 5 + i % 3,
                      f"家长{school}{i:02d}", f"139{school:02d}00{i:04d}", "母亲"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _csv(rows: list[tuple[str, object]]) -> dict:
    text = "候选人编号,成绩\n" + "".join(f"{c},{s}\n" for c, s in rows)
    return {"file": ("scores.csv", text.encode(), "text/csv")}


async def test_a_years_selection_from_nomination_to_the_admitted_events(server_url, worker_id, tmp_path):
    async with fresh_database(server_url, worker_id) as url, AsyncExitStack() as stack:
        # Nine days ago, for everything in this process (tokens keep the real time).
        people, admin, staff = await gateway_and(stack, url, "selection", selection_app, SelectionSettings, days_back=9, prefix="")
        # The consumer in another process, subscribed before anything is published.
        lines = consumer_process(stack, url, tmp_path / "admitted.txt", "selection.candidate.admitted", "student_id")
        http, login = people.http, people.login
        sel = "/api/selection"

        # Ten schools, each with its list imported, a coordinator, and one student with an account who nominates themself.
        schools, coordinators, selfers = [], [], []
        for i in range(SCHOOLS):
            r = await http.post("/identity/schools", json={"name": f"第{i + 1}中学", "district": "思明区", "level": "middle"}, headers=admin)
            school = r.json()["id"]
            schools.append(school)
            r = await http.post("/identity/imports/students", params={"school_id": school}, headers=admin,
                                files={"file": ("名单.xlsx", _sheet(i), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")})
            assert r.status_code == 200 and r.json()["imported"] == IMPORTED, r.text
            for role, name, extra in (("coordinator", f"coord{i}", {}), ("student", f"self{i}", {"grade": 8, "birth_date": "2011-03-01"})):
                r = await http.post("/identity/users", headers=admin, json={
                    "username": name, "display_name": f"{role} {i}号", "roles": [role], "school_id": school, "password": PASSWORD, **extra,
                })
                assert r.status_code == 201, r.text
                (coordinators if role == "coordinator" else selfers).append((r.json()["id"], await login(name)))

        async def known() -> bool:
            seen, cursor = 0, None
            while True:
                r = await http.get(f"{sel}/directory/students", params={"limit": 200, **({"cursor": cursor} if cursor else {})}, headers=admin)
                seen += len(r.json()["items"])
                cursor = r.json()["next_cursor"]
                if not cursor:
                    return seen == SCHOOLS * (IMPORTED + 1)

        await eventually(known, "selection's read model holds the 200 students")

        experts = []
        for n, (kind, school) in enumerate(EXPERTS):
            r = await http.post("/identity/users", headers=admin, json={
                "username": f"expert{n}", "display_name": f"专家{n}", "roles": ["expert"], "password": PASSWORD,
                **({"school_id": schools[school]} if school is not None else {}),
            })
            assert r.status_code == 201, r.text
            experts.append(r.json()["id"])

        weights = {"iq_test": 1, "written_test": 2, "interview": 2}
        r = await http.post(f"{sel}/campaigns", headers=staff, json={
            "year": 2027, "title": "2027年拔尖创新人才早期培养选拔", "school_limit": 20, "objection_days": 7,
            "disciplines": [{"discipline": d, "quota": 10, "min_grade": 4, "max_grade": 9, "weights": weights} for d in ("math", "physics")],
        })
        assert r.status_code == 201, r.text
        campaign = r.json()["id"]
        for discipline in ("math", "physics"):
            r = await http.put(f"{sel}/campaigns/{campaign}/rubrics/{discipline}", json=RUBRIC, headers=staff)
            assert r.status_code == 200, r.text
        assert (await http.post(f"{sel}/campaigns/{campaign}/advance", json={"to": "nomination"}, headers=staff)).status_code == 200

        nominations = 0
        for i, (school, (_, coordinator)) in enumerate(zip(schools, coordinators)):
            r = await http.get(f"{sel}/directory/students", params={"school_id": school, "limit": 200}, headers=coordinator)
            students = [s["id"] for s in r.json()["items"] if s["id"] != selfers[i][0]]
            assert len(students) == IMPORTED
            for j, student in enumerate(students):
                r = await http.post(f"{sel}/campaigns/{campaign}/nominations", headers=coordinator, json={
                    "source": "school", "student_id": student, "discipline": ("math", "physics")[j % 2],
                    "statement": "A strong student recommended by the school's science teachers.",
                })
                assert r.status_code == 201, r.text
                nominations += 1
        for i, (student, token) in enumerate(selfers):
            discipline = ("math", "physics")[i % 2]
            r = await http.post(f"{sel}/campaigns/{campaign}/nominations", headers=token, json={
                "source": "self", "discipline": discipline, "statement": "I want to do research in this subject.",
                "achievements": [{"title": "市级竞赛一等奖", "year": 2026, "level": "city"}],
            })
            assert r.status_code == 201, r.text
            nominations += 1
            if i < 3:  # the school recommends them too: one candidate, two sources
                r = await http.post(f"{sel}/campaigns/{campaign}/nominations", headers=coordinators[i][1], json={
                    "source": "school", "student_id": student, "discipline": discipline, "statement": "We recommend them as well.",
                })
                assert r.status_code == 201 and len(r.json()["nominations"]) == 2, r.text
                nominations += 1
        assert nominations == 203
        withdrawn = (await http.get(f"{sel}/campaigns/{campaign}/candidates", headers=selfers[9][1])).json()["items"][0]["id"]
        r = await http.post(f"{sel}/candidates/{withdrawn}/withdraw", json={"reason": "I am moving to another city."}, headers=selfers[9][1])
        assert r.status_code == 200, r.text

        r = await http.post(f"{sel}/campaigns/{campaign}/advance", json={"to": "iq_test", "reason": "All schools have sent their nominations."}, headers=staff)
        assert r.status_code == 200, r.text
        candidates = []
        r = await http.get(f"{sel}/campaigns/{campaign}/candidates", params={"limit": 200, "status": "active"}, headers=staff)
        candidates = [c["id"] for c in r.json()["items"]]
        assert len(candidates) == 199 and not r.json()["next_cursor"]

        # A file with one score out of the scale is refused whole.
        bad = [(c, 100 + k % 50) for k, c in enumerate(candidates)]
        bad[57] = (bad[57][0], 170)
        r = await http.post(f"{sel}/campaigns/{campaign}/assessments/iq_test/upload", files=_csv(bad), headers=staff)
        assert r.status_code == 422 and r.json()["code"] == "sheet_rejected" and [e["line"] for e in r.json()["errors"]] == [59], r.text
        assert (await http.get(f"{sel}/campaigns/{campaign}/assessments/iq_test", headers=staff)).json()["items"] == []
        for stage, rows in (("iq_test", [(c, 90 + (k * 7) % 70) for k, c in enumerate(candidates)]),
                            ("written_test", [(c, 40 + (k * 13) % 60) for k, c in enumerate(candidates)])):
            r = await http.post(f"{sel}/campaigns/{campaign}/assessments/{stage}/upload", files=_csv(rows), headers=staff)
            assert r.status_code == 200 and r.json()["taken"] == 199, r.text
            nxt = {"iq_test": "written_test", "written_test": "interview"}[stage]
            assert (await http.post(f"{sel}/campaigns/{campaign}/advance", json={"to": nxt}, headers=staff)).status_code == 200
        await _interviews(http, sel, staff, login, campaign, candidates, experts, schools)

        admitted = set()
        for discipline in ("math", "physics"):
            ranking = (await http.get(f"{sel}/campaigns/{campaign}/ranking", params={"discipline": discipline}, headers=staff)).json()
            assert [x["rank"] for x in ranking] == list(range(1, len(ranking) + 1))
            composites = [float(x["composite"]) for x in ranking]
            assert composites == sorted(composites, reverse=True)
            for x in ranking:
                body = {"outcome": x["proposal"]}
                if discipline == "math" and x["rank"] == 11:  # the first on the waiting list, admitted against the ranking
                    body = {"outcome": "admitted", "reason": "The bureau added a place for math by letter."}
                r = await http.put(f"{sel}/candidates/{x['candidate_id']}/decision", json=body, headers=staff)
                assert r.status_code == 200, r.text
                if r.json()["outcome"] == "admitted":
                    admitted.add(x["candidate_id"])
        assert len(admitted) == 21
        assert (await http.post(f"{sel}/campaigns/{campaign}/advance", json={"to": "publication"}, headers=staff)).status_code == 200

        listed = (await http.get(f"{sel}/campaigns/{campaign}/published", headers=coordinators[0][1])).json()
        assert {x["candidate_id"] for x in listed} == admitted
        assert all("*" in x["name"] and x["school"].startswith("第") for x in listed)
        target = listed[0]["candidate_id"]
        r = await http.post(f"{sel}/candidates/{target}/objections", json={"reason": "Please show how this result was reached."}, headers=coordinators[0][1])
        assert r.status_code == 201, r.text
        objection = r.json()["id"]

        # Seven days later: the window has closed; the objection is answered, the results become final.
        clock.get_clock().set(datetime.now(UTC))
        r = await http.post(f"{sel}/campaigns/{campaign}/advance", json={"to": "final"}, headers=staff)
        assert r.status_code == 409 and "1 objection(s) unanswered" in r.json()["detail"], r.text
        r = await http.post(f"{sel}/objections/{objection}/answer", json={"answer": "The scores and the weights are in the explanation."}, headers=staff)
        assert r.status_code == 200, r.text
        r = await http.post(f"{sel}/campaigns/{campaign}/advance", json={"to": "final"}, headers=staff)
        assert r.status_code == 200, r.text

        students = {}
        for c in admitted:
            students[(await http.get(f"{sel}/candidates/{c}", headers=staff)).json()["student_id"]] = c

        async def delivered():
            return set(lines()) == set(students)

        await eventually(delivered, "the admitted events reach the consumer in another process")
        ex = (await http.get(f"{sel}/candidates/{target}/explanation", headers=staff)).json()
        assert ex["outcome"] == "admitted" and ex["quota"] == 10 and ex["cut_off"] is not None
        interview = next(x for x in ex["stages"] if x["stage"] == "interview")
        assert interview["counted"] and interview["weight"] == 2 and interview["correction"] is not None
        verified = (await http.get(f"{sel}/record/verify", headers=admin)).json()
        assert verified["ok"] is True and verified["entries"] > 600, verified


async def _interviews(http, sel, staff, login, campaign, candidates, experts, schools) -> None:
    """The interview stage: experts registered, panels assigned and edited, scored, corrected, adjudicated."""
    async def registered() -> bool:
        for n, person in enumerate(experts):
            kind = EXPERTS[n][0]
            r = await http.put(f"{sel}/experts/{person}", headers=staff, json={
                "type": kind, "disciplines": ["math", "physics"], "max_load": 80,
                "affiliation": {"principal": "校长", "professor": "厦门大学", "researcher": "市教育科学研究院"}[kind],
            })
            if r.status_code != 200:
                assert r.json()["code"] == "selection_not_an_expert", r.text  # not in the read model yet
                return False
        return True

    await eventually(registered, "the nine experts are registered")
    r = await http.post(f"{sel}/campaigns/{campaign}/panels/preview", headers=staff)
    assert r.status_code == 200 and r.json()["saved"] is False, r.text
    assert (await http.get(f"{sel}/campaigns/{campaign}/panels", headers=staff)).json() == []
    r = await http.post(f"{sel}/campaigns/{campaign}/panels", headers=staff)
    assert r.status_code == 200, r.text
    assigned = r.json()
    assert len(assigned["panels"]) == 199 and assigned["spread"] <= 1 and assigned["mixed_panels"] == 199, assigned
    school_of = {}
    for page in ((await http.get(f"{sel}/campaigns/{campaign}/candidates", params={"limit": 200}, headers=staff)).json()["items"],):
        school_of.update({c["id"]: c["school_id"] for c in page})
    panels = {p["candidate_id"]: p["experts"] for p in assigned["panels"]}
    # No principal sits on a panel of their own school's candidate.
    for n, (kind, school) in enumerate(EXPERTS):
        if school is not None:
            assert not [c for c, m in panels.items() if experts[n] in m and school_of[c] == schools[school]]

    # By hand: the first school's principal cannot join a panel of that school's candidate; another expert can.
    edited = next(c for c in candidates if school_of[c] == schools[0])
    path = f"{sel}/campaigns/{campaign}/candidates/{edited}/panel/replacements"
    leaving = panels[edited][0]
    r = await http.post(path, headers=staff, json={"remove": leaving, "add": experts[0], "reason": "The principal knows the subject well."})
    assert r.status_code == 409 and r.json()["code"] == "selection_assignment_conflicted", r.text
    joining = next(e for e in experts[3:] if e not in panels[edited])
    r = await http.post(path, headers=staff, json={"remove": leaving, "add": joining, "reason": "The expert is abroad on the interview day."})
    assert r.status_code == 200 and joining in r.json()["experts"] and leaving not in r.json()["experts"], r.text
    panels[edited] = r.json()["experts"]

    # Every expert scores their candidates: the ability is the candidate's, the severe expert gives a point less,
    # and one expert of one panel scores a strong candidate far below the others.
    ability = {c: 3 + (k * 7) % 6 for k, c in enumerate(candidates)}  # 3..8 on each criterion
    odd = candidates[5]
    outlier = panels[odd][0]

    async def interview(n: int, person: str) -> int:
        token = await login(f"expert{n}")
        mine = (await http.get(f"{sel}/panels/mine", headers=token)).json()
        assert {m["candidate_id"] for m in mine} == {c for c, m in panels.items() if person in m}
        for m in mine:
            c = m["candidate_id"]
            point = 1 if (c, person) == (odd, outlier) else ability[c] - (n == SEVERE)
            r = await http.put(f"{sel}/candidates/{c}/interview-score", json={"scores": {"reasoning": point, "creativity": point}}, headers=token)
            assert r.status_code == 200, r.text
        return len(mine)

    scored = await asyncio.gather(*(interview(n, person) for n, person in enumerate(experts)))
    assert sum(scored) == 597

    report = (await http.get(f"{sel}/campaigns/{campaign}/interview-report", headers=staff)).json()
    assert report["scores"] == 597 and report["components"] == 1
    severity = {e["expert_id"]: e["severity"] for e in report["experts"]}
    # Ten points below the others on every total: found as that (the severities average zero over the experts).
    others = [v for e, v in severity.items() if e != experts[SEVERE]]
    assert abs(severity[experts[SEVERE]] - sum(others) / len(others) - 10) < 1.5 and max(map(abs, others)) < 2.5, severity
    by_candidate = {c["candidate_id"]: c for c in report["candidates"]}
    severe_panels = [c for c, m in panels.items() if experts[SEVERE] in m and c != odd]
    assert len(severe_panels) > 50
    for c in severe_panels:  # the corrected score is nearer the candidate's true score than the raw mean
        truth, x = ability[c] * 10, by_candidate[c]
        assert x["correction"] > 0 and abs(x["corrected"] - truth) < abs(x["raw_mean"] - truth), x
    assert [c for c, x in by_candidate.items() if x["flagged"]] == [odd] and report["unadjudicated"] == 1
    assert report["alpha"] > 0.8

    r = await http.post(f"{sel}/campaigns/{campaign}/advance", json={"to": "decision"}, headers=staff)
    assert r.status_code == 409 and "1 flagged candidate(s) not adjudicated" in r.json()["detail"], r.text
    r = await http.put(f"{sel}/candidates/{odd}/adjudication", headers=staff,
                       json={"score": ability[odd] * 10, "reason": "The chair heard the recording: the two concurring scores stand."})
    assert r.status_code == 200, r.text
    r = await http.post(f"{sel}/campaigns/{campaign}/advance", json={"to": "decision"}, headers=staff)
    assert r.status_code == 200, r.text

"""Nominations: who may nominate whom, eligibility with the rule named, merging, limits, withdrawal."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from services.selection.models import Nomination
from services.selection.nominations import service as nominations
from services.selection.nominations.schemas import NominationIn
from shared import clock
from shared.events.contracts.identity import ConsentRecord
from shared.problems import ProblemError
from shared.tokens import Principal
from tests.selection.support import advance, call, new_campaign, problem

STATEMENT = "Solves olympiad geometry for fun and explains it well."


def school(student: str = "child", discipline: str = "math") -> dict:
    return {"source": "school", "student_id": student, "discipline": discipline, "statement": STATEMENT}


async def _nominations(w) -> int:
    return (await w.tx.session.execute(select(func.count()).select_from(Nomination))).scalar_one()


async def test_a_school_and_the_student_nominating_make_one_candidate_with_both_sources(w):
    cid = w.ids["campaign_open"]  # the student nominated themself for math in the world
    r = await call(w, "coordinator", "POST", f"/campaigns/{cid}/nominations", json=school(w.ids["student"]))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id"] == w.ids["cand_open"]
    assert sorted(n["source"] for n in body["nominations"]) == ["school", "self"]
    again = await call(w, "coordinator", "POST", f"/campaigns/{cid}/nominations", json=school(w.ids["student"]))
    problem(again, 409, "selection_nomination_duplicate")


async def test_a_coordinator_cannot_see_or_nominate_another_schools_student(w):
    before = await _nominations(w)
    r = await call(w, "coordinator", "POST", f"/campaigns/{w.ids['campaign_open']}/nominations", json=school(w.ids["other_student"]))
    problem(r, 404, "student_not_found")
    r = await call(w, "coordinator", "POST", f"/campaigns/{w.ids['campaign_open']}/nominations", json=school(str(uuid.uuid4())))
    problem(r, 404, "student_not_found")
    assert await _nominations(w) == before


async def test_each_eligibility_rule_is_named(w):
    c = await new_campaign(w, 2075, disciplines=[{"discipline": "math", "quota": 2, "min_grade": 7, "max_grade": 9,
                                                    "weights": {"iq_test": 1, "written_test": 1, "interview": 1}}])
    path = f"/campaigns/{c['id']}/nominations"
    # Still a draft: the window is not open.
    body = problem(await call(w, "coordinator", "POST", path, json=school(w.ids["child"])), 409, "selection_nomination_closed")
    assert "window" in body["detail"]
    await advance(w, c["id"], "nomination")
    body = problem(await call(w, "coordinator", "POST", path, json=school(w.ids["child"], "physics")), 422, "selection_discipline_not_offered")
    body = problem(await call(w, "coordinator", "POST", path, json=school(w.ids["child"])), 422, "selection_grade_not_eligible")
    assert "grade 5" in body["detail"] and "(rule: grade)" in body["detail"]
    r = await call(w, "coordinator", "POST", path, json={"source": "school", "discipline": "math", "statement": STATEMENT})
    problem(r, 422, "selection_student_required")
    r = await call(w, "student", "POST", path, json=school(w.ids["student"]))
    problem(r, 403, "selection_source_not_allowed")
    r = await call(w, "student", "POST", path, json={"source": "self", "student_id": w.ids["other_student"], "discipline": "math", "statement": STATEMENT})
    problem(r, 403, "selection_source_not_allowed")


async def test_the_school_limit_counts_the_schools_candidates_still_in_the_running(w):
    c = await new_campaign(w, 2076, school_limit=1)
    await advance(w, c["id"], "nomination")
    path = f"/campaigns/{c['id']}/nominations"
    first = await call(w, "coordinator", "POST", path, json=school(w.ids["child"]))
    assert first.status_code == 201
    body = problem(await call(w, "coordinator", "POST", path, json=school(w.ids["student"])), 409, "selection_school_limit_reached")
    assert "(rule: limit)" in body["detail"]
    # The student may still nominate themself: the limit is the school's.
    r = await call(w, "student", "POST", path, json={"source": "self", "discipline": "math", "statement": STATEMENT})
    assert r.status_code == 201
    # The guardian withdraws the child: the school's place is free again.
    r = await call(w, "guardian", "POST", f"/candidates/{first.json()['id']}/withdraw", json={"reason": "Too much with the piano exams."})
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert (await call(w, "coordinator", "POST", path, json=school(w.ids["student"]))).status_code == 201


async def test_a_child_under_14_nominates_themself_only_while_a_guardian_consent_holds(w):
    s = w.tx.session
    child = Principal(id=w.ids["child"], kind="user", roles=frozenset({"student"}))
    data = NominationIn(source="self", discipline="math", statement=STATEMENT)
    try:
        await nominations.nominate(s, child, uuid.UUID(w.ids["campaign_open"]), data)
        raise AssertionError("nominated without consent")
    except ProblemError as e:
        assert e.code == "consent_required"
    from services.selection.db import directory
    from shared.directory.store import apply

    await apply(s, directory.tables, [ConsentRecord(
        version=10**9, consent_id=uuid.uuid4(), student_id=uuid.UUID(w.ids["child"]), guardian_id=uuid.UUID(w.ids["guardian"]),
        purpose="participation", given_at=clock.now(),
    )])
    candidate, nomination = await nominations.nominate(s, child, uuid.UUID(w.ids["campaign_open"]), data)
    assert nomination.source == "self" and candidate.student_id == uuid.UUID(w.ids["child"])


async def test_withdrawal_by_the_student_or_a_guardian_only_until_decisions(w):
    mine = w.ids["cand_student"]
    # The guardian cannot see the student (not their child): as if it did not exist.
    problem(await call(w, "guardian", "POST", f"/candidates/{mine}/withdraw", json={"reason": "not mine"}), 404, "selection_candidate_not_found")
    r = await call(w, "student", "POST", f"/candidates/{mine}/withdraw", json={"reason": "I chose the robotics team."})
    assert r.status_code == 200 and r.json()["withdrawal_reason"] == "I chose the robotics team."
    problem(await call(w, "student", "POST", f"/candidates/{mine}/withdraw", json={"reason": "again"}), 409, "selection_candidate_withdrawn")


async def test_lists_are_scoped_by_the_directory(w):
    path = f"/campaigns/{w.ids['campaign_tests']}/candidates"
    seen = {}
    for who in ("staff", "coordinator", "guardian", "student"):
        r = await call(w, who, "GET", path, params={"limit": 200})
        seen[who] = {c["id"] for c in r.json()["items"]}
    assert seen["guardian"] == {w.ids["cand_child"]}
    assert seen["student"] == {w.ids["cand_student"]}
    assert seen["coordinator"] == {w.ids["cand_student"], w.ids["cand_child"]}
    r = await call(w, "guardian", "GET", f"/candidates/{w.ids['cand_student']}")
    problem(r, 404, "selection_candidate_not_found")

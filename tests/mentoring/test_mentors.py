"""The mentors' registry: who may register whom, the entry's rules, capacities never below the
mentees, who sees which mentors, and conflicts of interest."""

from __future__ import annotations

import uuid

from services.mentoring.db import chain, directory
from services.mentoring.models import Mentor
from shared.directory.store import apply
from shared.events.contracts.identity import PersonRecord
from tests.mentoring.support import call
from tests.selection.support import problem

ENTRY = {"kind": "lab", "type": "researcher", "affiliation": "市科学技术研究院", "disciplines": ["chemistry"], "topics": ["催化"],
         "lab_capacity": 3}


async def _mentor_person(w, **fields) -> str:
    person = uuid.uuid4()
    await apply(w.tx.session, directory.tables, [PersonRecord(version=10**9, person_id=person, roles=["mentor"], display_name="李老师", **fields)])
    await w.tx.session.flush()
    return str(person)


async def test_staff_register_a_mentor_with_the_directorys_school_and_partner_and_the_record_keeps_it(w):
    person = await _mentor_person(w, partner_id=uuid.UUID(w.ids["university"]))
    r = await call(w, "staff", "PUT", f"/mentors/{person}", json={
        **ENTRY, "availability": [{"kind": "vacation", "starts_on": "2027-07-10", "ends_on": "2027-08-20", "note": "暑期实验室开放"}],
    })
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["partner_id"] == w.ids["university"] and body["display_name"] == "李老师" and body["lab_mentees"] == 0
    assert body["availability"][0]["kind"] == "vacation" and body["active"] is True
    [entry] = await chain.entries(w.tx.session, table=Mentor.__table__, row_id=person)
    assert entry.kind == "mentor.registered" and entry.state["lab_capacity"] == 3 and entry.actor == w.ids["staff"]


async def test_only_a_person_with_the_mentor_role_is_registered_and_a_mentor_writes_only_their_own_entry(w):
    problem(await call(w, "staff", "PUT", f"/mentors/{w.ids['student']}", json=ENTRY), 422, "mentoring_not_a_mentor")
    problem(await call(w, "staff", "PUT", f"/mentors/{uuid.uuid4()}", json=ENTRY), 422, "mentoring_not_a_mentor")
    other = await _mentor_person(w)
    problem(await call(w, "mentor", "PUT", f"/mentors/{other}", json=ENTRY), 404, "mentoring_mentor_not_found")
    assert await w.tx.session.get(Mentor, uuid.UUID(other)) is None
    r = await call(w, "mentor", "PUT", f"/mentors/{w.ids['mentor']}", json={**ENTRY, "kind": "both", "life_capacity": 2})
    assert r.status_code == 200 and r.json()["type"] == "researcher", r.text


async def test_an_entry_that_does_not_hold_is_refused_with_its_reason_and_nothing_is_stored(w):
    person = await _mentor_person(w)
    cases = [
        ({"disciplines": []}, "a lab mentor needs at least one discipline"),
        ({"disciplines": ["math", "math"]}, "a discipline is listed twice"),
        ({"life_capacity": 2}, "a lab mentor has no life capacity"),
        ({"kind": "life", "lab_capacity": 2}, "a life mentor has no lab capacity"),
        ({"availability": [{"kind": "weekend", "starts_on": "2027-05-01", "ends_on": "2027-04-01"}]}, "a block ends (2027-04-01) before it starts"),
    ]
    for change, reason in cases:
        body = problem(await call(w, "staff", "PUT", f"/mentors/{person}", json={**ENTRY, **change}), 422, "mentoring_mentor_entry_invalid")
        assert reason in body["detail"], body
    for bad in ({"lab_capacity": -1}, {"lab_capacity": 101}, {"kind": "sometimes"}, {"affiliation": "   "}, {"topics": ["x\u0000y"]},
                {"affiliation": "x" * 201}):
        problem(await call(w, "staff", "PUT", f"/mentors/{person}", json={**ENTRY, **bad}), 422, "validation_failed")
    assert await w.tx.session.get(Mentor, uuid.UUID(person)) is None


async def test_a_capacity_below_the_current_mentees_is_refused_and_the_entry_stays(w):
    path = f"/mentors/{w.ids['mentor']}"
    before = (await call(w, "staff", "GET", path)).json()
    assert before["lab_mentees"] == 1 and before["lab_capacity"] == 5
    entry = {"kind": "both", "type": "professor", "affiliation": "Matrix University", "disciplines": ["math"], "life_capacity": 5}
    body = problem(await call(w, "staff", "PUT", path, json={**entry, "lab_capacity": 0}), 409, "mentoring_capacity_below_mentees")
    assert "lab capacity 0 is below the 1 mentee(s)" in body["detail"]
    assert (await call(w, "staff", "GET", path)).json() == before
    r = await call(w, "staff", "PUT", path, json={**entry, "lab_capacity": 1})
    assert r.status_code == 200 and r.json()["lab_capacity"] == 1, r.text


async def test_students_see_the_active_mentors_by_kind_and_discipline_and_a_paused_one_only_staff_and_themself(w):
    person = await _mentor_person(w)
    assert (await call(w, "staff", "PUT", f"/mentors/{person}", json={**ENTRY, "active": False})).status_code == 200

    async def listed(who: str, **params) -> set[str]:
        r = await call(w, who, "GET", "/mentors", params={"limit": 200, **params})
        assert r.status_code == 200, r.text
        return {m["person_id"] for m in r.json()["items"]}

    assert person in await listed("staff") and person not in await listed("student")
    problem(await call(w, "student", "GET", f"/mentors/{person}"), 404, "mentoring_mentor_not_found")
    assert (await call(w, "staff", "GET", f"/mentors/{person}")).status_code == 200
    assert (await call(w, "staff", "PUT", f"/mentors/{person}", json=ENTRY)).status_code == 200
    assert person in await listed("student", discipline="chemistry", kind="lab")
    assert person not in await listed("student", discipline="math") and person not in await listed("student", kind="life")
    assert w.ids["mentor"] in await listed("guardian", kind="life") and w.ids["mentor"] in await listed("guardian", kind="both")
    problem(await call(w, "student", "GET", "/mentors", params={"discipline": "alchemy"}), 422, "validation_failed")


async def test_conflicts_are_declared_by_the_mentor_or_staff_and_read_by_them_only(w):
    path = f"/mentors/{w.ids['mentor']}/conflicts"
    r = await call(w, "mentor", "POST", path, json={"student_id": w.ids["child"], "kind": "relative"})
    assert r.status_code == 201 and r.json()["source"] == "expert", r.text
    problem(await call(w, "staff", "POST", path, json={"student_id": w.ids["student"], "kind": "taught"}), 422, "conflict_reason_required")
    r = await call(w, "staff", "POST", path, json={"student_id": w.ids["student"], "kind": "taught", "reason": "Their physics teacher this year."})
    assert r.status_code == 201 and r.json()["source"] == "staff", r.text
    problem(await call(w, "mentor", "POST", path, json={"student_id": str(uuid.uuid4()), "kind": "relative"}), 404, "student_not_found")
    assert {(c["subject_id"], c["kind"]) for c in (await call(w, "mentor", "GET", path)).json()} == {
        (w.ids["child"], "relative"), (w.ids["student"], "taught"),
    }
    other = await _mentor_person(w)
    assert (await call(w, "staff", "PUT", f"/mentors/{other}", json=ENTRY)).status_code == 200
    problem(await call(w, "mentor", "GET", f"/mentors/{other}/conflicts"), 404, "mentoring_mentor_not_found")
    problem(await call(w, "mentor", "POST", f"/mentors/{other}/conflicts", json={"student_id": w.ids["child"], "kind": "relative"}),
            404, "mentoring_mentor_not_found")

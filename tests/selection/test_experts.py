"""Experts: registered only with the expert role, their own entry readable by them alone, conflicts declared and kept."""

from __future__ import annotations

import uuid

from tests.selection.support import call, problem

BODY = {"type": "principal", "disciplines": ["math"], "affiliation": "第一中学", "max_load": 20}


async def test_only_a_person_with_the_expert_role_is_registered(w):
    problem(await call(w, "staff", "PUT", f"/experts/{w.ids['mentor']}", json=BODY), 422, "selection_not_an_expert")
    problem(await call(w, "staff", "PUT", f"/experts/{uuid.uuid4()}", json=BODY), 422, "selection_not_an_expert")
    problem(await call(w, "staff", "PUT", f"/experts/{w.ids['expert']}", json={**BODY, "disciplines": ["math", "math"]}), 422, "selection_discipline_repeated")
    r = await call(w, "staff", "PUT", f"/experts/{w.ids['expert']}", json=BODY)
    assert r.status_code == 200 and r.json()["type"] == "principal" and r.json()["display_name"]


async def test_an_expert_reads_only_their_own_entry_and_declares_only_their_own_conflicts(w):
    other = uuid.uuid4()
    problem(await call(w, "expert", "GET", f"/experts/{other}"), 404, "selection_expert_not_found")
    problem(await call(w, "expert", "POST", f"/experts/{other}/conflicts", json={"student_id": w.ids["student"], "kind": "relative"}), 404, "selection_expert_not_found")
    path = f"/experts/{w.ids['expert']}/conflicts"
    problem(await call(w, "expert", "POST", path, json={"student_id": w.ids["student"], "kind": "collaborator"}), 422, "conflict_reason_required")
    problem(await call(w, "expert", "POST", path, json={"student_id": str(uuid.uuid4()), "kind": "relative"}), 404, "student_not_found")
    first = await call(w, "expert", "POST", path, json={"student_id": w.ids["student"], "kind": "taught", "reason": "Their maths teacher in 2025."})
    assert first.status_code == 201 and first.json()["source"] == "expert"
    again = await call(w, "staff", "POST", path, json={"student_id": w.ids["student"], "kind": "taught", "reason": "Said again by staff."})
    assert again.json() == first.json(), "the open declaration answers as first declared"
    by_staff = await call(w, "staff", "POST", path, json={"student_id": w.ids["child"], "kind": "relative"})
    assert by_staff.json()["source"] == "staff"
    listed = (await call(w, "expert", "GET", path)).json()
    assert [(c["subject_id"], c["kind"], c["source"]) for c in listed] == [
        (w.ids["student"], "taught", "expert"), (w.ids["child"], "relative", "staff"),
    ]
    verified = (await call(w, "admin", "GET", "/record/verify")).json()
    assert verified["ok"] is True, verified

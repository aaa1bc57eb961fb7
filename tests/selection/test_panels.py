"""Interview panels: previewed without storing, saved, never a conflicted pair, an impossible one named."""

from __future__ import annotations

import uuid

from services.selection.db import directory
from shared.directory.store import apply
from shared.events.contracts.identity import PersonRecord
from tests.selection.support import advance, call, new_campaign, problem


async def _experts(w) -> dict[str, str]:
    """Three more experts in the read model, registered: a researcher, a principal of school A, a principal elsewhere."""
    made = {"expert": w.ids["expert"]}
    school_b = uuid.UUID(w.ids["school_b"])
    for name, school in (("researcher", None), ("principal_a", uuid.UUID(w.ids["school_a"])), ("principal_b", school_b)):
        person = uuid.uuid4()
        await apply(w.tx.session, directory.tables, [PersonRecord(version=10**9, person_id=person, roles=["expert"], display_name=name, school_id=school)])
        made[name] = str(person)
    await w.tx.session.flush()
    for name, person in made.items():
        kind = "professor" if name == "expert" else "researcher" if name == "researcher" else "principal"
        r = await call(w, "staff", "PUT", f"/experts/{person}", json={"type": kind, "disciplines": ["math"], "affiliation": name, "max_load": 10})
        assert r.status_code == 200, r.text
    return made


async def _interview(w, year: int, panel_size: int) -> str:
    c = await new_campaign(w, year, panel_size=panel_size)
    await advance(w, c["id"], "nomination")
    path = f"/campaigns/{c['id']}/nominations"
    for who, body in (("student", {"source": "self"}), ("coordinator", {"source": "school", "student_id": w.ids["child"]})):
        r = await call(w, who, "POST", path, json={**body, "discipline": "math", "statement": "A keen young mathematician."})
        assert r.status_code == 201, r.text
    for to in ("iq_test", "written_test", "interview"):
        await advance(w, c["id"], to, reason="test")
    return c["id"]


async def test_panels_are_previewed_then_saved_and_never_hold_a_conflicted_pair(w):
    experts = await _experts(w)
    r = await call(w, "expert", "POST", f"/experts/{experts['expert']}/conflicts",
                   json={"student_id": w.ids["student"], "kind": "taught", "reason": "Their teacher last year."})
    assert r.status_code == 201
    cid = await _interview(w, 2085, panel_size=2)
    preview = await call(w, "staff", "POST", f"/campaigns/{cid}/panels/preview")
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["saved"] is False and len(body["panels"]) == 2
    assert (await call(w, "staff", "GET", f"/campaigns/{cid}/panels")).json() == []
    student_candidate = {c["id"]: c["student_id"] for c in (await call(w, "staff", "GET", f"/campaigns/{cid}/candidates")).json()["items"]}
    for panel in body["panels"]:
        members = set(panel["experts"])
        assert len(members) == 2
        assert experts["principal_a"] not in members, "a principal never sits on their own school's candidate"
        if student_candidate[panel["candidate_id"]] == w.ids["student"]:
            assert experts["expert"] not in members, "the declared conflict is kept"
    saved = (await call(w, "staff", "POST", f"/campaigns/{cid}/panels")).json()
    assert saved["saved"] is True
    stored = (await call(w, "staff", "GET", f"/campaigns/{cid}/panels")).json()
    assert sorted((p["candidate_id"], sorted(p["experts"])) for p in stored) == sorted((p["candidate_id"], sorted(p["experts"])) for p in saved["panels"])
    assert (await call(w, "admin", "GET", "/record/verify")).json()["ok"] is True


async def test_an_impossible_assignment_names_the_constraint(w):
    await _experts(w)
    cid = await _interview(w, 2086, panel_size=4)  # four experts, but the school's principal may not judge its students
    body = problem(await call(w, "staff", "POST", f"/campaigns/{cid}/panels/preview"), 409, "selection_assignment_infeasible")
    assert "(conflicts)" in body["detail"]
    problem(await call(w, "staff", "POST", f"/campaigns/{w.ids['campaign_open']}/panels/preview"), 409, "selection_stage_closed")


RUBRIC = {"criteria": [
    {"key": "reasoning", "title": "数学推理", "weight": 3, "min": 0, "max": 10},
    {"key": "creativity", "title": "创新思维", "weight": 2, "min": 0, "max": 10},
]}


async def test_experts_score_only_their_candidates_on_the_rubric_and_see_others_only_after(w):
    experts = await _experts(w)
    c = await new_campaign(w, 2087, panel_size=3)  # every expert but the school's principal
    cid = c["id"]
    assert (await call(w, "staff", "PUT", f"/campaigns/{cid}/rubrics/math", json=RUBRIC)).status_code == 200
    await advance(w, cid, "nomination")
    r = await call(w, "student", "POST", f"/campaigns/{cid}/nominations", json={"source": "self", "discipline": "math", "statement": "I like proofs a lot."})
    candidate = r.json()["id"]
    for to in ("iq_test", "written_test", "interview"):
        await advance(w, cid, to, reason="test")
    problem(await call(w, "staff", "PUT", f"/campaigns/{cid}/rubrics/math", json=RUBRIC), 409, "selection_rubric_frozen")
    assert (await call(w, "staff", "POST", f"/campaigns/{cid}/panels")).status_code == 200
    panel = (await call(w, "staff", "GET", f"/campaigns/{cid}/panels")).json()[0]["experts"]
    progress = (await call(w, "staff", "GET", f"/campaigns/{cid}/progress")).json()
    assert progress["missing"] == {"scores_missing": 3}
    assert experts["expert"] in panel and experts["principal_a"] not in panel
    path = f"/candidates/{candidate}/interview-score"
    # Not on the child's panel (there is none): as if the candidate did not exist.
    problem(await call(w, "expert", "PUT", f"/candidates/{w.ids['cand_child']}/interview-score", json={"scores": {"reasoning": 8, "creativity": 7}}), 404, "selection_candidate_not_found")
    body = problem(await call(w, "expert", "PUT", path, json={"scores": {"reasoning": 11, "creativity": 7}}), 422, "selection_rubric_scores_invalid")
    assert [(e["field"], e["type"]) for e in body["errors"]] == [("reasoning", "out_of_scale")]
    problem(await call(w, "expert", "GET", f"/candidates/{candidate}/interview-scores"), 403, "selection_scores_hidden")
    r = await call(w, "expert", "PUT", path, json={"scores": {"reasoning": 8, "creativity": 7}})
    assert r.status_code == 200 and r.json()["total"] == 76.0  # (3*0.8 + 2*0.7) / 5
    mine = (await call(w, "expert", "GET", "/panels/mine")).json()
    assert {(m["candidate_id"], m["submitted"]) for m in mine if m["campaign_id"] == cid} == {(candidate, True)}
    assert len((await call(w, "expert", "GET", f"/candidates/{candidate}/interview-scores")).json()) == 1
    # A conflict declared after the assignment: the expert stands aside.
    await call(w, "staff", "POST", f"/experts/{experts['expert']}/conflicts", json={"student_id": w.ids["student"], "kind": "relative"})
    problem(await call(w, "expert", "PUT", path, json={"scores": {"reasoning": 9, "creativity": 7}}), 403, "selection_conflicted")
    problem(await call(w, "staff", "POST", f"/campaigns/{cid}/panels"), 409, "selection_scoring_began")
    report = (await call(w, "staff", "GET", f"/campaigns/{cid}/interview-report")).json()
    assert report["scores"] == 1 and report["candidates"][0]["raw_mean"] == 76.0

"""Interview panels: previewed without storing, saved, never a conflicted pair, an impossible one named."""

from __future__ import annotations

import uuid

import pytest

from services.selection.db import directory
from shared.directory.store import apply
from shared.events.contracts.identity import PersonRecord
from shared.problems import ProblemError
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


async def _interview(w, year: int, panel_size: int, rubric: dict | None = None) -> str:
    c = await new_campaign(w, year, panel_size=panel_size)
    if rubric:
        assert (await call(w, "staff", "PUT", f"/campaigns/{c['id']}/rubrics/math", json=rubric)).status_code == 200
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
    # Saved again before anyone scored: the earlier rows are recorded gone, and the record still holds.
    assert (await call(w, "staff", "POST", f"/campaigns/{cid}/panels")).status_code == 200
    verified = (await call(w, "admin", "GET", "/record/verify")).json()
    assert verified["ok"] is True, verified


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


def _expert(w, person: str):
    from shared.tokens import Principal

    return Principal(id=person, kind="user", roles=frozenset({"expert"}))


async def test_a_saved_panel_is_edited_by_hand_each_change_checked_and_in_the_record(w):
    from services.selection.db import chain
    from services.selection.panels import service
    from services.selection.panels.models import PanelMember

    experts = await _experts(w)
    cid = await _interview(w, 2086, panel_size=2, rubric=RUBRIC)
    assert (await call(w, "staff", "POST", f"/campaigns/{cid}/panels")).status_code == 200
    panels = {p["candidate_id"]: p["experts"] for p in (await call(w, "staff", "GET", f"/campaigns/{cid}/panels")).json()}
    candidate = next(c["id"] for c in (await call(w, "staff", "GET", f"/campaigns/{cid}/candidates")).json()["items"]
                     if c["student_id"] == w.ids["student"])
    mine = panels[candidate]
    # The three experts without a conflict with school A's students: two sit on this panel.
    free = sorted({experts["expert"], experts["researcher"], experts["principal_b"]} - set(mine))
    assert len(mine) == 2 and experts["principal_a"] not in mine and len(free) == 1
    path = f"/campaigns/{cid}/candidates/{candidate}/panel/replacements"

    def change(remove, add, reason="The expert fell ill before the interview."):
        return call(w, "staff", "POST", path, json={"remove": remove, "add": add, "reason": reason})

    body = problem(await change(mine[0], experts["principal_a"]), 409, "selection_assignment_conflicted")
    assert "own_school" in body["detail"]
    problem(await change(free[0], mine[0]), 409, "selection_not_on_panel")
    problem(await change(mine[0], mine[1]), 409, "selection_already_on_panel")
    problem(await change(mine[0], str(uuid.uuid4())), 404, "selection_expert_not_found")
    problem(await call(w, "staff", "POST", f"/campaigns/{cid}/candidates/{w.ids['cand_interview']}/panel/replacements",
                       json={"remove": mine[0], "add": free[0], "reason": "Wrong campaign."}), 404, "selection_candidate_not_found")
    problem(await change(mine[0], free[0], reason=""), 422, "validation_failed")
    # Paused: refused, and active again.
    kind = {experts["expert"]: "professor", experts["researcher"]: "researcher", experts["principal_b"]: "principal"}[free[0]]
    entry = {"type": kind, "disciplines": ["math"], "affiliation": "x", "max_load": 10}
    assert (await call(w, "staff", "PUT", f"/experts/{free[0]}", json={**entry, "active": False})).status_code == 200
    problem(await change(mine[0], free[0]), 409, "selection_expert_inactive")
    assert (await call(w, "staff", "PUT", f"/experts/{free[0]}", json=entry)).status_code == 200
    assert {p["candidate_id"]: p["experts"] for p in (await call(w, "staff", "GET", f"/campaigns/{cid}/panels")).json()} == panels
    # An expert who may take one candidate: onto the child's panel, then refused onto this one.
    extra = uuid.uuid4()
    await apply(w.tx.session, directory.tables, [PersonRecord(version=10**9, person_id=extra, roles=["expert"], display_name="extra")])
    await w.tx.session.flush()
    r = await call(w, "staff", "PUT", f"/experts/{extra}", json={"type": "researcher", "disciplines": ["math"], "affiliation": "x", "max_load": 1})
    assert r.status_code == 200, r.text
    [child] = [c for c in panels if c != candidate]
    r = await call(w, "staff", "POST", f"/campaigns/{cid}/candidates/{child}/panel/replacements",
                   json={"remove": panels[child][0], "add": str(extra), "reason": "A second opinion from the institute."})
    assert r.status_code == 200 and str(extra) in r.json()["experts"], r.text
    body = problem(await change(mine[0], str(extra)), 409, "selection_expert_full")
    assert "1 candidate(s)" in body["detail"]
    panels[child] = sorted([*panels[child][1:], str(extra)])
    got = {p["candidate_id"]: sorted(p["experts"]) for p in (await call(w, "staff", "GET", f"/campaigns/{cid}/panels")).json()}
    assert got == {c: sorted(m) for c, m in panels.items()}

    # The leaving expert had scored: their score stays on record, no longer counts, and the newcomer's is missing.
    await service.score(w.tx.session, _expert(w, mine[0]), uuid.UUID(candidate), {"reasoning": 8, "creativity": 6})
    await service.score(w.tx.session, _expert(w, mine[1]), uuid.UUID(candidate), {"reasoning": 7, "creativity": 6})
    r = await change(mine[0], free[0])
    assert r.status_code == 200 and sorted(r.json()["experts"]) == sorted([mine[1], free[0]]), r.text
    report = (await call(w, "staff", "GET", f"/campaigns/{cid}/interview-report")).json()
    assert {e["expert_id"] for e in report["experts"]} >= {mine[1]} and mine[0] not in {e["expert_id"] for e in report["experts"]}
    assert len((await call(w, "staff", "GET", f"/candidates/{candidate}/interview-scores")).json()) == 2  # raw scores kept
    progress = (await call(w, "staff", "GET", f"/campaigns/{cid}/progress")).json()
    assert progress["missing"]["scores_missing"] >= 1
    member = (await w.tx.session.execute(
        PanelMember.__table__.select().where(PanelMember.candidate_id == uuid.UUID(candidate), PanelMember.expert_id == uuid.UUID(free[0]))
    )).one()
    [*_, entry] = await chain.entries(w.tx.session, table=PanelMember.__table__, row_id=member.id)
    assert entry.kind == "panel.member_replaced" and entry.payload["reason"] == "The expert fell ill before the interview."
    assert entry.payload["removed"] == mine[0] and entry.payload["score_set_aside"] is True and entry.actor == w.ids["staff"]
    # The newcomer now sits on it: they score; the leaver is answered as for any candidate not theirs.
    await service.score(w.tx.session, _expert(w, free[0]), uuid.UUID(candidate), {"reasoning": 7, "creativity": 7})
    with pytest.raises(ProblemError) as refused:
        await service.score(w.tx.session, _expert(w, mine[0]), uuid.UUID(candidate), {"reasoning": 8, "creativity": 7})
    assert refused.value.code == "selection_candidate_not_found"
    # After the interview closes, no more edits.
    await advance(w, cid, "decision", reason="test")
    problem(await change(free[0], mine[0]), 409, "selection_stage_closed")


async def test_a_panel_that_disagrees_waits_for_staffs_ruling_which_the_ranking_and_record_show(w):
    from services.selection.db import chain
    from services.selection.panels.models import Adjudication
    from services.selection.panels import service

    await _experts(w)
    cid = await _interview(w, 2085, panel_size=2, rubric=RUBRIC)
    assert (await call(w, "staff", "POST", f"/campaigns/{cid}/panels")).status_code == 200
    panels = {p["candidate_id"]: p["experts"] for p in (await call(w, "staff", "GET", f"/campaigns/{cid}/panels")).json()}
    agreeing, split = sorted(panels)
    for expert, (reasoning, creativity) in zip(panels[agreeing], ((8, 7), (8, 8))):
        await service.score(w.tx.session, _expert(w, expert), uuid.UUID(agreeing), {"reasoning": reasoning, "creativity": creativity})
    for expert, (reasoning, creativity) in zip(panels[split], ((9, 9), (3, 4))):  # 90 against 34
        await service.score(w.tx.session, _expert(w, expert), uuid.UUID(split), {"reasoning": reasoning, "creativity": creativity})
    report = (await call(w, "staff", "GET", f"/campaigns/{cid}/interview-report")).json()
    assert {c["candidate_id"]: c["flagged"] for c in report["candidates"]} == {agreeing: False, split: True}
    assert report["unadjudicated"] == 1
    assert sum(p["candidates"] for p in report["alpha_by_panel"]) == 2
    assert {frozenset(p["experts"]) for p in report["alpha_by_panel"]} == {frozenset(m) for m in panels.values()}
    progress = (await call(w, "staff", "GET", f"/campaigns/{cid}/progress")).json()
    assert progress["missing"] == {"unadjudicated": 1}
    body = problem(await advance(w, cid, "decision"), 409, "selection_stage_incomplete")
    assert "1 flagged candidate(s) not adjudicated" in body["detail"]

    path = f"/candidates/{split}/adjudication"
    problem(await call(w, "staff", "PUT", f"/candidates/{agreeing}/adjudication", json={"score": 70, "reason": "No."}), 409, "selection_not_flagged")
    problem(await call(w, "staff", "PUT", path, json={"score": 101, "reason": "Too high."}), 422, "validation_failed")
    problem(await call(w, "staff", "PUT", path, json={"score": 70}), 422, "validation_failed")
    problem(await call(w, "expert", "PUT", path, json={"score": 70, "reason": "Mine."}), 403, "forbidden")
    r = await call(w, "staff", "PUT", path, json={"score": None, "reason": "The panel's corrected score stands."})
    assert r.status_code == 200 and r.json()["score"] is None, r.text
    r = await call(w, "staff", "PUT", path, json={"score": 66.5, "reason": "Heard again by the chair: 66.5."})
    assert r.status_code == 200 and r.json()["score"] == 66.5, r.text
    report = (await call(w, "staff", "GET", f"/campaigns/{cid}/interview-report")).json()
    ruled = next(c for c in report["candidates"] if c["candidate_id"] == split)
    assert ruled["adjudicated"] and ruled["adjudicated_score"] == 66.5 and report["unadjudicated"] == 0
    assert (await call(w, "staff", "GET", f"/campaigns/{cid}/progress")).json()["missing"] == {}
    row = (await w.tx.session.execute(Adjudication.__table__.select().where(Adjudication.candidate_id == uuid.UUID(split)))).one()
    entries = await chain.entries(w.tx.session, table=Adjudication.__table__, row_id=row.id)
    assert [e.kind for e in entries] == ["interview.adjudicated"] * 2 and entries[-1].state["reason"] == "Heard again by the chair: 66.5."

    assert (await advance(w, cid, "decision")).status_code == 200
    problem(await call(w, "staff", "PUT", path, json={"score": 60, "reason": "Too late."}), 409, "selection_stage_closed")
    ranking = (await call(w, "staff", "GET", f"/campaigns/{cid}/ranking", params={"discipline": "math"})).json()
    line = next(x for x in ranking if x["candidate_id"] == split)
    interview = next(s for s in line["stages"] if s["stage"] == "interview")
    assert float(interview["value"]) == 66.5 and float(interview["adjudicated"]) == 66.5 and float(interview["raw"]) == 62.0

"""Test results: entered or uploaded while the stage is open, within scale, a bad file refused whole;
and the record: a score altered by SQL is named by the verify endpoint."""

from __future__ import annotations

import uuid

from sqlalchemy import select, text

from services.selection.models import AssessmentScore
from tests.selection.support import call, problem


def _path(w, who="cand_student", stage="iq_test"):
    return f"/candidates/{w.ids[who]}/assessments/{stage}"


async def _scores(w) -> dict[str, tuple]:
    rows = (await w.tx.session.execute(select(AssessmentScore).execution_options(populate_existing=True))).scalars()
    return {str(r.candidate_id): (r.state, r.score) for r in rows if str(r.candidate_id) in (w.ids["cand_student"], w.ids["cand_child"])}


async def test_a_score_is_kept_to_two_decimals_and_absent_is_not_a_zero(w):
    r = await call(w, "staff", "PUT", _path(w), json={"score": 131.5})
    assert r.status_code == 200 and r.json()["score"] == "131.50"
    r = await call(w, "staff", "PUT", _path(w, "cand_child"), json={"state": "exempt", "remark": "sat it abroad"})
    assert r.status_code == 200 and r.json()["score"] is None


async def test_bad_scores_are_refused_and_nothing_is_stored(w):
    before = await _scores(w)
    body = problem(await call(w, "staff", "PUT", _path(w), json={"score": 161}), 422, "selection_score_out_of_scale")
    assert "between 40" in body["detail"]
    problem(await call(w, "staff", "PUT", _path(w), json={"score": -5}), 422, "selection_score_out_of_scale")
    problem(await call(w, "staff", "PUT", _path(w), json={"state": "absent", "score": 90}), 422, "selection_score_state_mismatch")
    problem(await call(w, "staff", "PUT", _path(w), json={"state": "scored"}), 422, "selection_score_state_mismatch")
    problem(await call(w, "staff", "PUT", _path(w), json={"score": "NaN"}), 422, "validation_failed")
    # The written test has not opened: its stage is closed to scores.
    problem(await call(w, "staff", "PUT", _path(w, stage="written_test"), json={"score": 80}), 409, "selection_stage_closed")
    problem(await call(w, "staff", "PUT", f"/candidates/{uuid.uuid4()}/assessments/iq_test", json={"score": 80}), 404, "selection_candidate_not_found")
    # A campaign still taking nominations takes no scores either.
    problem(await call(w, "staff", "PUT", _path(w, "cand_open"), json={"score": 100}), 409, "selection_stage_closed")
    assert await _scores(w) == before


def _file(w, *rows: str) -> dict:
    return {"file": ("iq.csv", ("候选人编号,成绩,状态,备注\n" + "\n".join(rows) + "\n").encode(), "text/csv")}


async def test_an_upload_with_one_bad_row_is_refused_whole_with_every_error_by_line_in_both_languages(w):
    before = await _scores(w)
    path = f"/campaigns/{w.ids['campaign_tests']}/assessments/iq_test/upload"
    files = _file(w, f"{w.ids['cand_student']},150,,", f"{w.ids['cand_child']},170,,", f"{uuid.uuid4()},100,,", f"{w.ids['cand_student']},,缺考,")
    body = problem(await w.clients["selection"].post(
        path, files=files, headers={**w.caller("staff").headers, "Accept-Language": "zh"}), 422, "sheet_rejected")
    by_line = {(e["line"], e["code"]) for e in body["errors"]}
    assert by_line == {(3, "row_number_out_of_range"), (4, "selection_row_candidate_unknown"), (5, "duplicate_in_file")}
    assert all(e["message_en"] and e["message_zh"] and e["message"] == e["message_zh"] for e in body["errors"])
    assert await _scores(w) == before


async def test_a_good_upload_writes_every_row(w):
    path = f"/campaigns/{w.ids['campaign_tests']}/assessments/iq_test/upload"
    r = await call(w, "staff", "POST", path, files=_file(w, f"{w.ids['cand_student']},99.5,,", f"{w.ids['cand_child']},,免考,病假"))
    assert r.status_code == 200, r.text
    assert r.json() == {"taken": 2, "by_state": {"scored": 1, "exempt": 1}}
    scores = await _scores(w)
    assert str(scores[w.ids["cand_student"]][1]) == "99.50" and scores[w.ids["cand_child"]][0] == "exempt"


async def test_the_record_names_a_score_altered_by_sql(w):
    r = await call(w, "admin", "GET", "/record/verify")
    assert r.status_code == 200 and r.json()["ok"] is True, r.json()
    assert r.json()["entries"] > 0
    row_id = (await w.tx.session.execute(
        select(AssessmentScore.id).where(AssessmentScore.candidate_id == uuid.UUID(w.ids["cand_student"]))
    )).scalar_one()
    await w.tx.session.execute(text("UPDATE selection.assessment_score SET score = 160 WHERE id = :id"), {"id": row_id})
    r = await call(w, "admin", "GET", "/record/verify")
    found = r.json()
    assert found["ok"] is False
    assert [(f["reason"], f["table"], f["row_id"], f["columns"]) for f in found["findings"]] == [
        ("row_altered", "assessment_score", str(row_id), ["score"])
    ]

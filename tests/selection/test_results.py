"""Results: the ranking's proposal, decisions against it only with a reason, publication with masked
names, objections once each and answered, the final results as events, and the explanation."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from shared import clock
from shared.events.models import Event
from tests.selection.support import advance, call, new_campaign, problem

# The interview does not count here: these tests are about what follows the scores.
TESTS_ONLY = {"iq_test": 1, "written_test": 3, "interview": 0}


async def _scored_campaign(w, year: int) -> tuple[str, dict[str, str]]:
    """A math campaign of quota 1 with the student (IQ 130, written 90) and the child (IQ 100, written 60), in its decision stage."""
    c = await new_campaign(w, year, disciplines=[{"discipline": "math", "quota": 1, "min_grade": 4, "max_grade": 9, "weights": TESTS_ONLY}])
    cid = c["id"]
    await advance(w, cid, "nomination")
    path = f"/campaigns/{cid}/nominations"
    statement = "Loves number theory and has won the city round."
    own = (await call(w, "student", "POST", path, json={"source": "self", "discipline": "math", "statement": statement})).json()["id"]
    child = (await call(w, "coordinator", "POST", path, json={"source": "school", "student_id": w.ids["child"], "discipline": "math", "statement": statement})).json()["id"]
    await advance(w, cid, "iq_test", reason="Nominations in early.")
    for who, score in ((own, 130), (child, 100)):
        assert (await call(w, "staff", "PUT", f"/candidates/{who}/assessments/iq_test", json={"score": score})).status_code == 200
    assert (await advance(w, cid, "written_test")).status_code == 200
    for who, score in ((own, 90), (child, 60)):
        assert (await call(w, "staff", "PUT", f"/candidates/{who}/assessments/written_test", json={"score": score})).status_code == 200
    assert (await advance(w, cid, "interview")).status_code == 200
    # No panel sat: the interview does not count here, so staff close it with a reason.
    problem(await advance(w, cid, "decision"), 409, "selection_stage_incomplete")
    assert (await advance(w, cid, "decision", reason="The interview does not count in this campaign.")).status_code == 200
    return cid, {"own": own, "child": child}


async def test_the_whole_road_from_scores_to_final_results(w):
    with clock.use_clock(clock.FrozenClock()) as moved:
        cid, who = await _scored_campaign(w, 2080)
        ranking = (await call(w, "staff", "GET", f"/campaigns/{cid}/ranking", params={"discipline": "math"})).json()
        assert [(x["candidate_id"], x["rank"], x["proposal"]) for x in ranking] == [(who["own"], 1, "admitted"), (who["child"], 2, "waitlisted")]
        own_line = ranking[0]
        # (130-40)/120*100 = 75, 90 -> composite (75 + 3*90) / 4 = 86.25
        assert own_line["composite"] == "86.2500"
        # Publication needs every candidate decided.
        decided = await call(w, "staff", "PUT", f"/candidates/{who['own']}/decision", json={"outcome": "admitted"})
        assert decided.status_code == 200 and decided.json()["against_ranking"] is False
        problem(await advance(w, cid, "publication"), 409, "selection_stage_must_complete")
        # Against the ranking: only with a reason, and marked.
        problem(await call(w, "staff", "PUT", f"/candidates/{who['child']}/decision", json={"outcome": "admitted"}), 422, "selection_decision_reason_required")
        r = await call(w, "staff", "PUT", f"/candidates/{who['child']}/decision", json={"outcome": "admitted", "reason": "A second place opened: the bureau raised the quota by letter."})
        assert r.json()["against_ranking"] is True and r.json()["proposal"] == "waitlisted"

        assert (await advance(w, cid, "publication")).status_code == 200
        listed = (await call(w, "expert", "GET", f"/campaigns/{cid}/published")).json()
        assert {x["candidate_id"] for x in listed} == {who["own"], who["child"]}
        assert all("*" in x["name"] for x in listed) and all(x["school"] for x in listed)

        # Anyone signed in objects, once per candidate.
        made = await call(w, "mentor", "POST", f"/candidates/{who['child']}/objections", json={"reason": "The child was ranked second; why admitted?"})
        assert made.status_code == 201, made.text
        problem(await call(w, "mentor", "POST", f"/candidates/{who['child']}/objections", json={"reason": "again"}), 409, "selection_objection_duplicate")
        mine = (await call(w, "mentor", "GET", f"/campaigns/{cid}/objections")).json()["items"]
        assert [o["id"] for o in mine] == [made.json()["id"]]
        assert (await call(w, "guardian", "GET", f"/campaigns/{cid}/objections")).json()["items"] == []

        # Not final while the window is open, nor while an objection is unanswered.
        problem(await advance(w, cid, "final"), 409, "selection_stage_must_complete")
        moved.advance(timedelta(days=8))
        problem(await call(w, "guardian", "POST", f"/candidates/{who['own']}/objections", json={"reason": "late objection"}), 409, "selection_objection_window_closed")
        body = problem(await advance(w, cid, "final"), 409, "selection_stage_must_complete")
        assert "1 objection(s) unanswered" in body["detail"]
        r = await call(w, "staff", "POST", f"/objections/{made.json()['id']}/answer", json={"answer": "The quota was raised to two by the bureau's letter of 3 May."})
        assert r.status_code == 200
        problem(await call(w, "staff", "POST", f"/objections/{made.json()['id']}/answer", json={"answer": "twice"}), 409, "selection_objection_answered")

        assert (await advance(w, cid, "final")).status_code == 200
        events = (await w.tx.session.execute(select(Event).where(Event.type.like("selection.candidate.%")))).scalars().all()
        mine = [e for e in events if e.payload["campaign_id"] == cid]
        assert sorted((e.type, e.payload["student_id"]) for e in mine) == sorted([
            ("selection.candidate.admitted", w.ids["student"]), ("selection.candidate.admitted", w.ids["child"]),
        ])
        assert {e.payload["cohort_year"] for e in mine} == {2080} and {e.payload["stage"] for e in mine} == {"middle", "primary"}
        assert "name" not in mine[0].payload and "display_name" not in mine[0].payload

        # The student reads how it was reached; the guardian too, for the child.
        ex = (await call(w, "student", "GET", f"/candidates/{who['own']}/explanation")).json()
        assert ex["composite"] == "86.2500" and ex["rank"] == 1 and ex["cut_off"] == "86.2500" and ex["quota"] == 1
        assert [(s["stage"], s["state"], s["weight"], s["counted"]) for s in ex["stages"]] == [
            ("iq_test", "scored", 1, True), ("written_test", "scored", 3, True), ("interview", "missing", 0, False),
        ]
        ex = (await call(w, "guardian", "GET", f"/candidates/{who['child']}/explanation")).json()
        assert ex["outcome"] == "admitted" and ex["proposal"] == "waitlisted" and ex["reason"].startswith("A second place")
        problem(await call(w, "guardian", "GET", f"/candidates/{who['own']}/explanation"), 404, "selection_candidate_not_found")

        verified = (await call(w, "admin", "GET", "/record/verify")).json()
        assert verified["ok"] is True, verified


async def test_the_explanation_waits_for_publication(w):
    cid, who = await _scored_campaign(w, 2081)
    problem(await call(w, "student", "GET", f"/candidates/{who['own']}/explanation"), 409, "selection_explanation_not_ready")
    assert (await call(w, "staff", "GET", f"/candidates/{who['own']}/explanation")).status_code == 200
    problem(await call(w, "student", "GET", f"/campaigns/{cid}/published"), 404, "selection_not_published")

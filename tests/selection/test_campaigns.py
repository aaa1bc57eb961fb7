"""Campaigns: stages move one at a time, only when complete or closed with a reason; deadlines are timers."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from services.selection.campaigns import service as campaigns
from services.selection.models import Campaign
from shared import clock
from shared.events.models import Event
from tests.selection.support import advance, call, new_campaign, problem


async def test_a_campaign_is_created_in_draft_with_its_disciplines(w):
    c = await new_campaign(w, 2070)
    assert c["stage"] == "draft"
    assert c["disciplines"][0] == {"discipline": "math", "quota": 2, "min_grade": 4, "max_grade": 9,
                                   "weights": {"iq_test": 1, "written_test": 1, "interview": 2}}
    r = await call(w, "staff", "POST", "/campaigns", json={**_body(2070)})
    problem(r, 409, "selection_campaign_year_taken")


def _body(year, **d):
    discipline = {"discipline": "math", "quota": 2, "min_grade": 4, "max_grade": 9, "weights": {"iq_test": 1, "written_test": 1, "interview": 2}, **d}
    return {"year": year, "title": "x campaign", "school_limit": 3, "disciplines": [discipline]}


async def test_rules_the_schema_cannot_state_each_have_their_code(w):
    problem(await call(w, "staff", "POST", "/campaigns", json=_body(2071, min_grade=9, max_grade=4)), 422, "selection_grades_invalid")
    problem(await call(w, "staff", "POST", "/campaigns", json=_body(2071, weights={"iq_test": 0, "written_test": 0, "interview": 0})), 422, "selection_weights_invalid")
    two = _body(2071)
    two["disciplines"] *= 2
    problem(await call(w, "staff", "POST", "/campaigns", json=two), 422, "selection_discipline_repeated")
    problem(await call(w, "staff", "POST", "/campaigns", json={**_body(2071), "iq_scale": {"min": 100, "max": 100}}), 422, "selection_scale_invalid")
    # Nothing of the refused ones was stored.
    r = await call(w, "staff", "GET", "/campaigns", params={"limit": 200})
    assert 2071 not in [c["year"] for c in r.json()["items"]]


async def test_stages_go_in_order_and_an_incomplete_stage_needs_a_reason(w):
    c = await new_campaign(w, 2072)
    problem(await advance(w, c["id"], "iq_test"), 409, "selection_stage_skipped")
    assert (await advance(w, c["id"], "nomination")).status_code == 200
    # The nomination window is still open: moving on needs a reason.
    body = problem(await advance(w, c["id"], "iq_test"), 409, "selection_stage_incomplete")
    assert "the window is still open" in body["detail"]
    r = await advance(w, c["id"], "iq_test", reason="Nominations closed by the bureau's notice of 1 March.")
    assert r.status_code == 200 and r.json()["stage"] == "iq_test"
    moves = (await call(w, "admin", "GET", f"/campaigns/{c['id']}/transitions")).json()
    assert [(m["from_stage"], m["to_stage"], m["incomplete"], m["reason"]) for m in moves] == [
        ("draft", "nomination", {}, None),
        ("nomination", "iq_test", {"window_open": 1}, "Nominations closed by the bureau's notice of 1 March."),
    ]
    # Going back, or twice to the same stage, is a skip.
    problem(await advance(w, c["id"], "nomination"), 409, "selection_stage_skipped")


async def test_a_test_stage_is_complete_when_every_candidate_has_a_result(w):
    # campaign_tests: the student scored, the child absent.
    r = await call(w, "staff", "GET", f"/campaigns/{w.ids['campaign_tests']}/progress")
    assert r.json() == {"stage": "iq_test", "closed": False, "complete": True, "missing": {}}
    assert (await advance(w, w.ids["campaign_tests"], "written_test")).status_code == 200
    r = await call(w, "staff", "GET", f"/campaigns/{w.ids['campaign_tests']}/progress")
    assert r.json()["missing"] == {"without_result": 2}


async def test_weights_freeze_when_their_stage_opens(w):
    cid = w.ids["campaign_tests"]  # in its IQ test
    r = await call(w, "staff", "PATCH", f"/campaigns/{cid}/disciplines/math", json={"weights": {"iq_test": 3, "written_test": 1, "interview": 2}})
    problem(r, 409, "selection_weights_frozen")
    r = await call(w, "staff", "PATCH", f"/campaigns/{cid}/disciplines/math", json={"weights": {"iq_test": 1, "written_test": 2, "interview": 2}})
    assert r.status_code == 200 and r.json()["weights"]["written_test"] == 2
    problem(await call(w, "staff", "PATCH", f"/campaigns/{cid}/disciplines/biology", json={"quota": 3}), 422, "selection_discipline_not_offered")


async def test_a_deadline_is_a_timer_that_closes_the_stage_and_a_moved_deadline_disarms_the_old_one(w):
    cid = w.ids["campaign_open"]
    first = clock.now() + timedelta(days=3)
    r = await call(w, "staff", "PUT", f"/campaigns/{cid}/deadlines/nomination", json={"closes_at": first.isoformat()})
    assert r.status_code == 200, r.text
    later = first + timedelta(days=2)
    await call(w, "staff", "PUT", f"/campaigns/{cid}/deadlines/nomination", json={"closes_at": later.isoformat()})
    s = w.tx.session
    timers = (await s.execute(select(Event).where(Event.type == "selection.stage.deadline", Event.subject == cid))).scalars().all()
    assert sorted(t.payload["closes_at"][:19] for t in timers) == sorted(x.isoformat()[:19] for x in (first, later))

    class Delivered:
        def __init__(self, event):
            from shared.events.contracts import parse_for_consumer

            self.payload = parse_for_consumer(event.type, event.version, event.payload)

    by_time = sorted(timers, key=lambda t: t.payload["closes_at"])
    await campaigns.on_deadline(s, Delivered(by_time[0]))  # the moved one: no effect
    assert (await s.get(Campaign, __import__("uuid").UUID(cid), populate_existing=True)).stage_closed_at is None
    for _ in range(2):  # the current one, delivered twice
        await campaigns.on_deadline(s, Delivered(by_time[1]))
    await s.flush()
    r = await call(w, "staff", "GET", f"/campaigns/{cid}/transitions")
    closed = [m for m in r.json() if m["action"] == "closed"]
    assert len(closed) == 1 and closed[0]["by"] == "deadline"
    r = await call(w, "student", "POST", f"/campaigns/{cid}/nominations", json={"source": "self", "discipline": "physics", "statement": "Late, but keen on physics."})
    problem(r, 409, "selection_nomination_closed")
    # Closed by its deadline, the stage is complete.
    assert (await advance(w, cid, "iq_test")).status_code == 200


async def test_a_deadline_in_the_past_or_for_a_stage_gone_by_is_refused(w):
    cid = w.ids["campaign_tests"]
    past = (clock.now() - timedelta(hours=1)).isoformat()
    future = (clock.now() + timedelta(days=1)).isoformat()
    problem(await call(w, "staff", "PUT", f"/campaigns/{cid}/deadlines/iq_test", json={"closes_at": past}), 409, "selection_deadline_invalid")
    problem(await call(w, "staff", "PUT", f"/campaigns/{cid}/deadlines/nomination", json={"closes_at": future}), 409, "selection_deadline_invalid")
    problem(await call(w, "staff", "PUT", f"/campaigns/{cid}/deadlines/publication", json={"closes_at": future}), 409, "selection_deadline_invalid")

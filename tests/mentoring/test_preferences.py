"""Rounds and preferences: a student ranks eligible lab mentors for their own open need while the
window is open; every refusal names its rule and leaves the last list as it was."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tests.mentoring.support import call, register_mentor
from tests.selection.support import problem

def _window(days_from: int, days_to: int) -> dict:
    now = datetime.now(UTC)
    return {"opens_at": (now + timedelta(days=days_from)).isoformat(), "closes_at": (now + timedelta(days=days_to)).isoformat()}


async def test_a_student_ranks_lab_mentors_replaces_the_list_and_withdraws_it(w):
    second = await register_mentor(w)
    path = f"/rounds/{w.ids['round_lab']}/preferences/{w.ids['need_student_lab']}"
    r = await call(w, "student", "PUT", path, json={"mentors": [second, w.ids["mentor"]]})
    assert r.status_code == 200, r.text
    assert [(m["mentor_id"], m["rank"]) for m in r.json()["mentors"]] == [(second, 1), (w.ids["mentor"], 2)]
    assert r.json()["mentors"][0]["display_name"] == "王老师" and r.json()["discipline"] == "math"
    assert (await call(w, "guardian", "GET", path)).status_code == 404  # not the guardian's child
    assert (await call(w, "coordinator", "GET", path)).json()["mentors"] == r.json()["mentors"]
    # The new mentor sees the place naming them, not the rest of the list.
    places = (await call(w, "mentor", "GET", f"/rounds/{w.ids['round_lab']}/preferences")).json()["items"]
    assert [(p["student_id"], p["rank"]) for p in places] == [(w.ids["student"], 2)]
    # Staff enter a list for the student (a paper form); an empty list withdraws it.
    r = await call(w, "staff", "PUT", path, json={"mentors": [w.ids["mentor"]]})
    assert [m["rank"] for m in r.json()["mentors"]] == [1]
    r = await call(w, "student", "PUT", path, json={"mentors": []})
    assert r.status_code == 200 and r.json()["mentors"] == []


async def test_every_mentor_that_cannot_be_ranked_is_named_with_its_rule_and_the_list_stays(w):
    path = f"/rounds/{w.ids['round_lab']}/preferences/{w.ids['need_student_lab']}"
    before = (await call(w, "student", "GET", path)).json()
    assert [m["mentor_id"] for m in before["mentors"]] == [w.ids["mentor"]]
    cases = {
        await register_mentor(w, active=False): "paused",
        await register_mentor(w, kind="life", disciplines=[], lab_capacity=0, life_capacity=3): "gives life mentoring only",
        await register_mentor(w, disciplines=["physics"]): "does not mentor math",
        await register_mentor(w, lab_capacity=0): "has no lab places",
        str(uuid.uuid4()): "not a registered mentor",
        w.ids["student"]: "not a registered mentor",
    }
    for mentor, rule in cases.items():
        body = problem(await call(w, "student", "PUT", path, json={"mentors": [w.ids["mentor"], mentor]}), 422, "mentoring_mentor_not_eligible")
        assert mentor in body["detail"] and rule in body["detail"], body
    conflicted = await register_mentor(w)
    r = await call(w, "staff", "POST", f"/mentors/{conflicted}/conflicts", json={"student_id": w.ids["student"], "kind": "relative"})
    assert r.status_code == 201
    body = problem(await call(w, "student", "PUT", path, json={"mentors": [conflicted]}), 422, "mentoring_mentor_conflicted")
    assert "relative" in body["detail"]
    problem(await call(w, "student", "PUT", path, json={"mentors": [w.ids["mentor"], w.ids["mentor"]]}), 422, "mentoring_preference_repeated")
    many = [await register_mentor(w) for _ in range(11)]
    problem(await call(w, "student", "PUT", path, json={"mentors": many}), 422, "validation_failed")
    problem(await call(w, "student", "PUT", path, json={"mentors": ["not-an-id"]}), 422, "validation_failed")
    assert (await call(w, "student", "GET", path)).json() == before


async def test_only_ones_own_open_need_in_an_open_lab_round_takes_a_list(w):
    mentors = {"mentors": [w.ids["mentor"]]}
    lab = w.ids["round_lab"]
    # Someone else's need, a life need, an unknown need: as if it did not exist.
    for need in (w.ids["need_child_lab"], w.ids["need_student_life"], str(uuid.uuid4())):
        problem(await call(w, "student", "PUT", f"/rounds/{lab}/preferences/{need}", json=mentors), 404, "mentoring_need_not_found")
    problem(await call(w, "guardian", "PUT", f"/rounds/{lab}/preferences/{w.ids['need_child_lab']}", json=mentors), 403, "forbidden")
    problem(await call(w, "student", "PUT", f"/rounds/{uuid.uuid4()}/preferences/{w.ids['need_student_lab']}", json=mentors),
            404, "mentoring_round_not_found")
    # A round whose window has not opened, one of another cohort, and a life round.
    later = (await call(w, "staff", "POST", "/rounds", json={"kind": "lab", "cohort_year": 2027, "title": "Second round", **_window(3, 10)})).json()
    body = problem(await call(w, "student", "PUT", f"/rounds/{later['id']}/preferences/{w.ids['need_student_lab']}", json=mentors),
                   409, "mentoring_window_closed")
    assert later["opens_at"][:10] in body["detail"]
    other = (await call(w, "staff", "POST", "/rounds", json={"kind": "lab", "cohort_year": 2028, "title": "Cohort 2028", **_window(-1, 10)})).json()
    problem(await call(w, "student", "PUT", f"/rounds/{other['id']}/preferences/{w.ids['need_student_lab']}", json=mentors),
            404, "mentoring_need_not_found")
    life = (await call(w, "staff", "POST", "/rounds", json={"kind": "life", "cohort_year": 2027, "title": "Life", **_window(-1, 10)})).json()
    problem(await call(w, "student", "PUT", f"/rounds/{life['id']}/preferences/{w.ids['need_student_life']}", json=mentors),
            409, "mentoring_round_takes_no_preferences")


async def test_a_round_needs_a_window_that_closes_after_it_opens(w):
    body = {"kind": "lab", "cohort_year": 2027, "title": "Backwards"}
    problem(await call(w, "staff", "POST", "/rounds", json={**body, **_window(5, 1)}), 422, "mentoring_round_window_invalid")
    problem(await call(w, "staff", "POST", "/rounds", json={**body, **_window(1, 1)}), 422, "mentoring_round_window_invalid")
    naive = {"opens_at": "2027-09-01T08:00:00", "closes_at": "2027-09-10T08:00:00+08:00"}
    detail = problem(await call(w, "staff", "POST", "/rounds", json={**body, **naive}), 422, "mentoring_round_window_invalid")["detail"]
    assert "time zone" in detail
    for bad in ({"cohort_year": 1999}, {"kind": "both"}, {"title": ""}, {"opens_at": "tomorrow"}, {"default_order": "alphabetical"}):
        problem(await call(w, "staff", "POST", "/rounds", json={**body, **_window(1, 5), **bad}), 422, "validation_failed")
    rounds = (await call(w, "student", "GET", "/rounds", params={"limit": 200})).json()["items"]
    assert [r["title"] for r in rounds] == ["2027 lab mentors", "2027 lab mentors, first round"]  # the world's, newest window first


async def test_times_are_answered_in_utc_as_written_and_as_read_again(w):
    """A client writing Beijing time reads the same instant back in UTC, from the write's answer
    as from every later read (shared/db.py writes aware times in UTC)."""
    body = {"kind": "life", "cohort_year": 2027, "title": "Times", "opens_at": "2027-09-01T08:00:00+08:00",
            "closes_at": "2027-09-10T20:30:00+08:00"}
    r = await call(w, "staff", "POST", "/rounds", json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["opens_at"], created["closes_at"]) == ("2027-09-01T00:00:00Z", "2027-09-10T12:30:00Z")
    read = (await call(w, "student", "GET", f"/rounds/{created['id']}")).json()
    assert (read["opens_at"], read["closes_at"]) == (created["opens_at"], created["closes_at"])

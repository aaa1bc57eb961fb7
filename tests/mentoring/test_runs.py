"""Matching runs: a draft after the window, forced and banned pairs recomputed around, the stability
given up named, every entry explained, publication once; the life run balances load; every
refusal names its rule and stores nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from services.mentoring.mentors import service as mentors
from services.mentoring.models import Mentorship, MentorshipStatus, Need, NeedKind
from shared import clock
from shared.directory.store import apply
from shared.events.contracts.identity import PersonRecord
from shared.events.models import Event
from services.mentoring.db import directory
from tests.matrix.world import admitted_envelope
from tests.mentoring.support import call, register_mentor
from tests.selection.support import problem


async def _admit(w, discipline: str, cohort: int, rank: int, school: str = "school_a") -> dict:
    """A new student admitted (their directory row first): their id and their two needs' ids."""
    student = uuid.uuid4()
    s = w.tx.session
    await apply(s, directory.tables, [PersonRecord(version=10**9, person_id=student, roles=["student"], display_name="学生",
                                                   school_id=uuid.UUID(w.ids[school]), grade=8)])
    await mentors.on_admitted(s, admitted_envelope(str(student), w.ids[school], discipline, cohort_year=cohort, rank=rank))
    needs = {n.kind: str(n.id) for n in (await s.execute(sa.select(Need).where(Need.student_id == student))).scalars()}
    return {"student": str(student), "lab": needs[NeedKind.lab], "life": needs[NeedKind.life]}


async def _round(w, kind: str, cohort: int, **extra) -> str:
    now = clock.now()
    r = await call(w, "staff", "POST", "/rounds", json={
        "kind": kind, "cohort_year": cohort, "title": f"{cohort} {kind}", "opens_at": (now - timedelta(hours=1)).isoformat(),
        "closes_at": (now + timedelta(hours=1)).isoformat(), **extra})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _prefer(w, round_id: str, need: str, *mentor_ids: str) -> None:
    r = await call(w, "staff", "PUT", f"/rounds/{round_id}/preferences/{need}", json={"mentors": list(mentor_ids)})
    assert r.status_code == 200, r.text


async def _entries(w, who: str, round_id: str, run_id: str) -> dict[str, dict]:
    r = await call(w, who, "GET", f"/rounds/{round_id}/runs/{run_id}/entries", params={"limit": 200})
    assert r.status_code == 200, r.text
    return {e["need_id"]: e for e in r.json()["items"]}


async def _textbook(w, cohort: int) -> tuple[str, dict, dict]:
    """The hand-worked game of tests/stable/test_examples.py through the API: X takes two, Y one.
    a: X Y, b: X Y, c: X, d: Y X; X takes the default order (admission rank d c b a), Y ranks a b d."""
    x, y = await register_mentor(w, lab_capacity=2), await register_mentor(w, lab_capacity=1)
    people = {name: await _admit(w, "math", cohort, rank) for name, rank in (("a", 4), ("b", 3), ("c", 2), ("d", 1))}
    round_id = await _round(w, "lab", cohort)
    for name, listed in (("a", (x, y)), ("b", (x, y)), ("c", (x,)), ("d", (y, x))):
        await _prefer(w, round_id, people[name]["lab"], *listed)
    r = await call(w, "staff", "PUT", f"/rounds/{round_id}/rankings/{y}", json={"needs": [people[n]["lab"] for n in "abd"]})
    assert r.status_code == 200 and r.json()["needs"] == [people[n]["lab"] for n in "abd"], r.text
    return round_id, {"X": x, "Y": y}, people


async def test_a_lab_run_is_the_stable_matching_and_explains_every_student(w):
    with clock.use_clock(clock.FrozenClock()) as moved:
        round_id, m, p = await _textbook(w, 2031)
        problem(await call(w, "staff", "POST", f"/rounds/{round_id}/runs"), 409, "mentoring_window_open")
        moved.advance(hours=2)
        r = await call(w, "staff", "POST", f"/rounds/{round_id}/runs")
        assert r.status_code == 201, r.text
        run = r.json()
        assert (run["number"], run["status"], run["matched"], run["unmatched"], run["given_up"]) == (1, "draft", 3, 1, [])
        e = await _entries(w, "staff", round_id, run["id"])
        lab = {name: e[p[name]["lab"]] for name in "abcd"}
        assert {n: x["mentor_id"] for n, x in lab.items()} == {"a": m["Y"], "b": None, "c": m["X"], "d": m["X"]}
        assert (lab["a"]["student_rank"], lab["a"]["mentor_rank"], lab["a"]["decision"]) == (2, 1, "stable")
        assert lab["c"]["explanation"]["decided_by"] == "the student's first choice"
        # b: X was full with d and c (X's 1st and 2nd; b 3rd), Y with a (1st; b 2nd).
        assert lab["b"]["decision"] == "unmatched"
        assert [(x["mentor_id"], x["reason"], x["mentor_rank"], x["last_taken_rank"]) for x in lab["b"]["explanation"]["passed"]] == [
            (m["X"], "full", 3, 2), (m["Y"], "full", 2, 1)]
        # Not published: the students do not see it yet.
        problem(await call(w, "student", "GET", f"/rounds/{round_id}/runs/{run['id']}"), 404, "mentoring_run_not_found")


async def test_forcing_and_banning_recompute_the_draft_and_name_the_stability_given_up_then_it_is_published_once(w):
    with clock.use_clock(clock.FrozenClock()) as moved:
        round_id, m, p = await _textbook(w, 2032)
        moved.advance(hours=2)
        first = (await call(w, "staff", "POST", f"/rounds/{round_id}/runs")).json()
        path = f"/rounds/{round_id}/overrides/{p['b']['lab']}/{m['Y']}"
        r = await call(w, "staff", "PUT", path, json={"action": "force", "reason": "b works in Y's lab already, on the olympiad project."})
        assert r.status_code == 200, r.text
        second = r.json()
        assert second["number"] == 2 and second["status"] == "draft"
        # Y would rather have a (ranked 1st) than the forced b, and a would rather have Y than nothing.
        assert second["given_up"] == [{"need_id": p["a"]["lab"], "student_id": p["a"]["student"], "mentor_id": m["Y"],
                                       "student_rank": 2, "mentor_rank": 1, "forced": False}]
        e = await _entries(w, "staff", round_id, second["id"])
        assert e[p["b"]["lab"]]["decision"] == "forced" and "olympiad project" in e[p["b"]["lab"]]["explanation"]["decided_by"]
        assert e[p["a"]["lab"]]["mentor_id"] is None
        assert [x["reason"] for x in e[p["a"]["lab"]]["explanation"]["passed"]] == ["full", "place_forced"]
        r = await call(w, "staff", "PUT", f"/rounds/{round_id}/overrides/{p['d']['lab']}/{m['X']}",
                       json={"action": "ban", "reason": "X supervises d's sibling's thesis."})
        third = r.json()
        # b, forced on Y, would rather have X, who now holds a (ranked below b): the force gives that up.
        assert third["number"] == 3 and third["given_up"] == [{"need_id": p["b"]["lab"], "student_id": p["b"]["student"], "mentor_id": m["X"],
                                                               "student_rank": 1, "mentor_rank": 3, "forced": True}], third
        e = await _entries(w, "staff", round_id, third["id"])
        assert {n: e[p[n]["lab"]]["mentor_id"] for n in "abcd"} == {"a": m["X"], "b": m["Y"], "c": m["X"], "d": None}
        banned = e[p["d"]["lab"]]["explanation"]["passed"][1]
        assert banned["reason"] == "banned" and "sibling" in banned["rule"]
        overrides = (await call(w, "staff", "GET", f"/rounds/{round_id}/overrides")).json()["items"]
        assert {(o["action"], o["mentor_id"], o["reason"][:1]) for o in overrides} == {("force", m["Y"], "b"), ("ban", m["X"], "X")}
        runs = (await call(w, "staff", "GET", f"/rounds/{round_id}/runs")).json()["items"]
        assert [(x["number"], x["status"]) for x in runs] == [(3, "draft"), (2, "superseded"), (1, "superseded")]
        problem(await call(w, "staff", "POST", f"/rounds/{round_id}/runs/{first['id']}/publish"), 409, "mentoring_run_superseded")

        r = await call(w, "staff", "POST", f"/rounds/{round_id}/runs/{third['id']}/publish")
        assert r.status_code == 200 and r.json()["status"] == "published", r.text
        s = w.tx.session
        made = {(str(x.need_id), str(x.mentor_id), x.status) for x in (await s.execute(sa.select(Mentorship).where(
            Mentorship.need_id.in_([uuid.UUID(p[n]["lab"]) for n in "abcd"])))).scalars()}
        assert made == {(p["a"]["lab"], m["X"], MentorshipStatus.active), (p["b"]["lab"], m["Y"], MentorshipStatus.active),
                        (p["c"]["lab"], m["X"], MentorshipStatus.active)}
        events = (await s.execute(sa.select(Event).where(Event.type == "mentoring.mentor.assigned",
                                                         Event.subject.in_([p[n]["student"] for n in "abcd"])))).scalars().all()
        assert sorted((e.subject, e.payload["mentor_id"], e.payload["discipline"]) for e in events) == sorted(
            [(p["a"]["student"], m["X"], "math"), (p["b"]["student"], m["Y"], "math"), (p["c"]["student"], m["X"], "math")])
        # Once: again, an earlier draft, another draft or override, all refused, nothing more stored.
        problem(await call(w, "staff", "POST", f"/rounds/{round_id}/runs/{third['id']}/publish"), 409, "mentoring_run_published")
        problem(await call(w, "staff", "POST", f"/rounds/{round_id}/runs/{second['id']}/publish"), 409, "mentoring_round_published")
        problem(await call(w, "staff", "POST", f"/rounds/{round_id}/runs"), 409, "mentoring_round_published")
        problem(await call(w, "staff", "DELETE", path), 409, "mentoring_round_published")
        assert len((await s.execute(sa.select(Event).where(Event.type == "mentoring.mentor.assigned",
                                                           Event.subject.in_([p[n]["student"] for n in "abcd"])))).scalars().all()) == 3


async def test_the_published_run_is_read_by_each_reader_only_for_their_rows(w):
    with clock.use_clock(clock.FrozenClock()) as moved:
        round_id = w.ids["round_lab"]
        await _prefer(w, round_id, w.ids["need_child_lab"], w.ids["mentor"])
        moved.advance(days=31)
        run = (await call(w, "staff", "POST", f"/rounds/{round_id}/runs")).json()
        for who in ("student", "guardian", "coordinator", "mentor"):
            problem(await call(w, who, "GET", f"/rounds/{round_id}/runs/{run['id']}/entries"), 404, "mentoring_run_not_found")
        assert (await call(w, "staff", "POST", f"/rounds/{round_id}/runs/{run['id']}/publish")).status_code == 200
        every = await _entries(w, "staff", round_id, run["id"])
        child = every[w.ids["need_child_lab"]]
        assert child["mentor_id"] == w.ids["mentor"] and child["decision"] == "stable"
        other = every[w.ids["need_other_student_lab"]]
        assert other["mentor_id"] is None and other["explanation"]["decided_by"] == "the student ranked no mentor in this round"
        assert w.ids["need_student_lab"] not in every  # the student has their lab mentor already: not in the pool
        assert set(await _entries(w, "guardian", round_id, run["id"])) == {w.ids["need_child_lab"]}
        assert set(await _entries(w, "coordinator", round_id, run["id"])) == {w.ids["need_child_lab"]}  # school_a's
        assert set(await _entries(w, "mentor", round_id, run["id"])) == {w.ids["need_child_lab"]}  # the pair naming them
        assert await _entries(w, "student", round_id, run["id"]) == {}
        assert (await call(w, "student", "GET", f"/rounds/{round_id}/runs/{run['id']}")).json()["status"] == "published"
        for who in ("student", "guardian", "mentor", "coordinator"):
            assert (await call(w, who, "GET", f"/rounds/{round_id}/runs")).status_code == 403
            assert (await call(w, who, "POST", f"/rounds/{round_id}/runs")).status_code == 403


async def test_every_bad_override_ranking_or_publication_is_refused_with_its_rule_and_nothing_is_stored(w):
    with clock.use_clock(clock.FrozenClock()) as moved:
        one = await register_mentor(w, lab_capacity=1)
        physics = await register_mentor(w, disciplines=["physics"])
        conflicted = await register_mentor(w)
        a, b = await _admit(w, "math", 2033, 1), await _admit(w, "math", 2033, 2)
        r = await call(w, "staff", "POST", f"/mentors/{conflicted}/conflicts", json={"student_id": a["student"], "kind": "relative"})
        assert r.status_code == 201, r.text
        round_id = await _round(w, "lab", 2033)
        await _prefer(w, round_id, a["lab"], one)
        base = f"/rounds/{round_id}"
        force = {"action": "force", "reason": "Staff's considered choice."}
        # Rankings: only of applicants, each once; a mentor ranks only for themself.
        problem(await call(w, "staff", "PUT", f"{base}/rankings/{one}", json={"needs": [b["lab"]]}), 422, "mentoring_applicant_unknown")
        problem(await call(w, "staff", "PUT", f"{base}/rankings/{one}", json={"needs": [a["lab"], a["lab"]]}), 422, "mentoring_applicant_repeated")
        problem(await call(w, "mentor", "PUT", f"{base}/rankings/{one}", json={"needs": [a["lab"]]}), 404, "mentoring_mentor_not_found")
        problem(await call(w, "staff", "PUT", f"{base}/rankings/{uuid.uuid4()}", json={"needs": []}), 404, "mentoring_mentor_not_found")
        assert (await call(w, "staff", "GET", f"{base}/rankings/{one}")).json()["needs"] == []
        # Before the window closes, an override would draft: refused, and not kept.
        problem(await call(w, "staff", "PUT", f"{base}/overrides/{a['lab']}/{one}", json=force), 409, "mentoring_window_open")
        moved.advance(hours=2)
        cases = [
            (f"{base}/overrides/{a['lab']}/{physics}", force, 422, "mentoring_mentor_not_eligible", "does not mentor math"),
            (f"{base}/overrides/{a['lab']}/{conflicted}", force, 422, "mentoring_mentor_conflicted", "relative"),
            (f"{base}/overrides/{w.ids['need_student_lab']}/{one}", force, 404, "mentoring_need_not_found", None),  # another cohort
            (f"{base}/overrides/{a['lab']}/{uuid.uuid4()}", force, 404, "mentoring_mentor_not_found", None),
            (f"{base}/overrides/{a['life']}/{one}", force, 404, "mentoring_need_not_found", None),  # a life need in a lab round
            (f"/rounds/{uuid.uuid4()}/overrides/{a['lab']}/{one}", force, 404, "mentoring_round_not_found", None),
            (f"{base}/overrides/{a['lab']}/{one}", {"action": "force", "reason": "  "}, 422, "validation_failed", None),
            (f"{base}/overrides/{a['lab']}/{one}", {"action": "force", "reason": "x" * 2001}, 422, "validation_failed", None),
            (f"{base}/overrides/{a['lab']}/{one}", {"action": "pin", "reason": "Because."}, 422, "validation_failed", None),
            (f"{base}/overrides/not-an-id/{one}", force, 422, "validation_failed", None),
        ]
        for path, body, status, code, words in cases:
            found = problem(await call(w, "staff", "PUT", path, json=body), status, code)
            assert words is None or words in found["detail"], found
        assert (await call(w, "staff", "PUT", f"{base}/overrides/{a['lab']}/{one}", json=force)).status_code == 200
        # The one place is taken by a: forcing b too is beyond it, and the whole change is undone.
        problem(await call(w, "staff", "PUT", f"{base}/overrides/{b['lab']}/{one}", json=force), 409, "mentoring_force_over_capacity")
        assert [o["need_id"] for o in (await call(w, "staff", "GET", f"{base}/overrides")).json()["items"]] == [a["lab"]]
        problem(await call(w, "staff", "DELETE", f"{base}/overrides/{b['lab']}/{one}"), 404, "mentoring_override_not_found")
        runs = (await call(w, "staff", "GET", f"{base}/runs")).json()["items"]
        assert [x["number"] for x in runs] == [1]
        # The mentor pauses after the draft: publishing it is refused as stale, nothing is made.
        r = await call(w, "staff", "PUT", f"/mentors/{one}", json={"kind": "lab", "type": "researcher", "affiliation": "市科学技术研究院",
                                                                  "disciplines": ["math"], "lab_capacity": 1, "active": False})
        assert r.status_code == 200, r.text
        found = problem(await call(w, "staff", "POST", f"{base}/runs/{runs[0]['id']}/publish"), 409, "mentoring_run_stale")
        assert one in found["detail"]
        assert (await w.tx.session.execute(sa.select(Mentorship).where(Mentorship.need_id == uuid.UUID(a["lab"])))).first() is None
        # Drafting again now refuses the forced pair with its rule.
        found = problem(await call(w, "staff", "POST", f"{base}/runs"), 409, "mentoring_force_invalid")
        assert "paused" in found["detail"]
        problem(await call(w, "staff", "POST", f"{base}/runs/{uuid.uuid4()}/publish"), 404, "mentoring_run_not_found")


async def test_a_life_run_balances_the_load_never_pairs_a_conflict_and_places_the_first_in_the_default_order(w):
    with clock.use_clock(clock.FrozenClock()) as moved:
        life = {"kind": "life", "disciplines": [], "lab_capacity": 0}
        two, other, one = (await register_mentor(w, **life, life_capacity=2), await register_mentor(w, **life, life_capacity=2),
                           await register_mentor(w, **life, life_capacity=1))
        # With the world's mentor (life, 5 places): 10 places for 12 students.
        people = [await _admit(w, "physics", 2034, rank) for rank in range(1, 13)]
        r = await call(w, "staff", "POST", f"/mentors/{one}/conflicts", json={"student_id": people[0]["student"], "kind": "relative"})
        assert r.status_code == 201
        round_id = await _round(w, "life", 2034)
        problem(await call(w, "staff", "PUT", f"/rounds/{round_id}/preferences/{people[0]['life']}", json={"mentors": [one]}),
                409, "mentoring_round_takes_no_preferences")
        moved.advance(hours=2)
        run = (await call(w, "staff", "POST", f"/rounds/{round_id}/runs")).json()
        assert (run["matched"], run["unmatched"], run["figures"]["places"]) == (10, 2, 10), run
        e = await _entries(w, "staff", round_id, run["id"])
        placed = {i: e[x["life"]]["mentor_id"] for i, x in enumerate(people)}
        for last in (10, 11):  # the last two in the default order (admission rank) wait
            assert placed[last] is None and "no life mentor's place left" in e[people[last]["life"]]["explanation"]["decided_by"]
        assert placed[0] != one  # the conflict
        loads = {m: list(placed.values()).count(m) for m in (two, other, one, w.ids["mentor"])}
        assert loads == {two: 2, other: 2, one: 1, w.ids["mentor"]: 5}
        assert all(e[x["life"]]["decision"] == "balanced" for x in people[:10])
        assert (await call(w, "staff", "POST", f"/rounds/{round_id}/runs/{run['id']}/publish")).status_code == 200
        kinds = {x.kind for x in (await w.tx.session.execute(sa.select(Mentorship).where(
            Mentorship.need_id.in_([uuid.UUID(x["life"]) for x in people])))).scalars()}
        assert kinds == {NeedKind.life}


async def test_an_exit_after_publication_frees_the_place_for_the_next_round(w):
    with clock.use_clock(clock.FrozenClock()) as moved:
        x = await register_mentor(w, lab_capacity=1)
        a, b = await _admit(w, "math", 2035, 1), await _admit(w, "math", 2035, 2)
        first = await _round(w, "lab", 2035)
        for who in (a, b):
            await _prefer(w, first, who["lab"], x)
        moved.advance(hours=2)
        run = (await call(w, "staff", "POST", f"/rounds/{first}/runs")).json()
        assert (await call(w, "staff", "POST", f"/rounds/{first}/runs/{run['id']}/publish")).status_code == 200
        from shared.events.contracts.tracking import StudentExited
        from shared.events.worker import EventEnvelope

        exited = StudentExited(student_id=uuid.UUID(a["student"]), reason="voluntary", exited_at=clock.now())
        await mentors.on_exited(w.tx.session, EventEnvelope(
            event_id=uuid.uuid4(), type="tracking.student.exited", version=1, source="tracking", subject=a["student"], payload=exited,
            occurred_at=datetime.now(UTC), traceparent=None, attempt=1, delivery_id=1, consumer="mentoring.pools"))
        moved.advance(minutes=1)
        second = await _round(w, "lab", 2035)
        await _prefer(w, second, b["lab"], x)
        moved.advance(hours=2)
        run = (await call(w, "staff", "POST", f"/rounds/{second}/runs")).json()
        e = await _entries(w, "staff", second, run["id"])
        assert set(e) == {b["lab"]} and e[b["lab"]]["mentor_id"] == x

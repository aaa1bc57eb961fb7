"""Research projects and defenses: a mentor's project with their mentees, milestones whose reminders
are timers, submissions reviewed, a defense scheduled with a checked panel, scored on its rubric
by its judges only and decided once; every reader sees only their rows, every refusal names its
rule and stores nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa

from services.mentoring.db import chain, conflicts, directory
from services.mentoring.mentors import service as mentors
from services.mentoring.models import Mentorship, MentorshipStatus, Need, NeedKind
from services.mentoring.projects import service
from services.mentoring.projects.models import Defense, DefenseScore, Judge, Milestone, Project, ProjectMember, Submission
from shared import clock
from shared.directory.store import apply
from shared.events.contracts import parse_for_consumer
from shared.events.contracts.identity import PersonRecord
from shared.events.models import Delivery, Event, Subscription
from shared.events.worker import RetryPolicy, claim_due
from shared.tokens import Principal
from tests.matrix.world import admitted_envelope
from tests.mentoring.support import call, register_mentor
from tests.selection.support import problem

RUBRIC = {"criteria": [{"key": "method", "title": "Method", "weight": 3, "min": 0, "max": 10, "step": 0.5},
                       {"key": "presentation", "title": "Presentation", "weight": 1, "min": 0, "max": 20}]}
ABSTRACT = "How many domino tilings an Aztec diamond has, and why the answer is a power of two."


def _judge(person: str) -> Principal:
    return Principal(id=person, kind="user", roles=frozenset({"mentor"}))


async def _mentee(w, mentor: str, discipline: str = "math", *, student: str | None = None, school: str = "school_a",
                  status: MentorshipStatus = MentorshipStatus.active) -> str:
    """A lab mentorship of `mentor` in `discipline`: with the given student (their open lab need there), or a new student admitted."""
    s = w.tx.session
    if student is None:
        student = str(uuid.uuid4())
        await apply(s, directory.tables, [PersonRecord(version=10**9, person_id=uuid.UUID(student), roles=["student"], display_name="学生",
                                                       school_id=uuid.UUID(w.ids[school]), grade=8)])
        await mentors.on_admitted(s, admitted_envelope(student, w.ids[school], discipline, cohort_year=2018))
    need = (await s.execute(sa.select(Need).where(Need.student_id == uuid.UUID(student), Need.kind == NeedKind.lab,
                                                  Need.discipline == discipline))).scalar_one()
    await s.execute(sa.insert(Mentorship).values(id=uuid.uuid4(), need_id=need.id, student_id=need.student_id, mentor_id=uuid.UUID(mentor),
                                                 kind=NeedKind.lab, discipline=discipline, status=status, started_at=clock.now()))
    await s.flush()
    return student


async def _project(w, who: str = "staff", **body) -> dict:
    r = await call(w, who, "POST", "/projects", json={"title": "Aztec diamonds", "abstract": ABSTRACT, "discipline": "math", **body})
    assert r.status_code == 201, r.text
    return r.json()


async def _defense(w, project_id: str, days: int = 40, **body) -> dict:
    """A defense scheduled `days` ago for a day later: it has begun, its judges may score it."""
    with clock.use_clock(clock.FrozenClock(clock.now() - timedelta(days=days))):
        r = await call(w, "staff", "POST", f"/projects/{project_id}/defenses", json={
            "starts_at": (clock.now() + timedelta(days=1)).isoformat(), "place": "报告厅 2", "rubric": RUBRIC, "pass_mark": 60, **body})
    assert r.status_code == 201, r.text
    return r.json()


async def _count(w, model, *where) -> int:
    return (await w.tx.session.execute(sa.select(sa.func.count()).select_from(model).where(*where))).scalar_one()


async def _record(w, table, row_id) -> list[str]:
    return [e.kind for e in await chain.entries(w.tx.session, table=table.__table__, row_id=row_id)]


async def test_the_story_from_project_to_decided_defense(w):
    s = w.tx.session
    with clock.use_clock(clock.FrozenClock()) as moved:
        # The world's mentor starts a project with their lab mentee (no mentor_id: their own).
        project = await _project(w, "mentor", members=[w.ids["student"]])
        assert (project["mentor_id"], project["members"], project["discipline"]) == (w.ids["mentor"], [w.ids["student"]], "math")
        assert await _record(w, Project, project["id"]) == ["project.created"]

        # A milestone due in five days: its reminder is a timer, 72 hours before.
        due = clock.now() + timedelta(days=5)
        r = await call(w, "mentor", "POST", f"/projects/{project['id']}/milestones",
                       json={"title": "Literature review", "due_at": due.isoformat(), "description": "Summarise the three papers."})
        assert r.status_code == 201, r.text
        milestone = r.json()
        assert milestone["reminded_at"] is None
        [timer] = (await s.execute(sa.select(Event).where(Event.type == "mentoring.milestone.due", Event.subject == milestone["id"]))).scalars()
        assert timer.payload["milestone_id"] == milestone["id"] and timer.payload["project_id"] == project["id"]
        assert timer.payload["student_ids"] == [w.ids["student"]]
        assert parse_for_consumer(timer.type, timer.version, timer.payload).remind_at == due - timedelta(hours=72)

        # The student hands in twice (the first kept, the latest counts), the second after the due date: late.
        r = await call(w, "student", "POST", f"/milestones/{milestone['id']}/submissions", json={"text": "A first summary."})
        assert r.status_code == 201 and r.json()["late"] is False and r.json()["latest"] is True, r.text
        first = r.json()
        moved.advance(days=6)
        r = await call(w, "student", "POST", f"/milestones/{milestone['id']}/submissions",
                       json={"text": "The summary, with the third paper.", "link": "https://example.org/summary"})
        assert r.status_code == 201 and r.json()["late"] is True, r.text
        second = r.json()
        listed = (await call(w, "coordinator", "GET", f"/milestones/{milestone['id']}/submissions")).json()["items"]
        assert [(x["id"], x["latest"]) for x in listed] == [(second["id"], True), (first["id"], False)]
        # The mentor reviews the latest; the earlier one is no longer the one that counts.
        problem(await call(w, "mentor", "PUT", f"/submissions/{first['id']}/review", json={"review": "accepted"}), 409,
                "mentoring_submission_superseded")
        r = await call(w, "mentor", "PUT", f"/submissions/{second['id']}/review",
                       json={"review": "needs_revision", "note": "Say which paper proves the bound."})
        assert r.status_code == 200 and (r.json()["review"], r.json()["review_note"]) == ("needs_revision", "Say which paper proves the bound.")
        assert await _record(w, Submission, second["id"]) == ["submission.made", "submission.reviewed"]

        # Staff schedule the defense and name its panel: three mentors, none the project's own, none conflicted.
        judges = [await register_mentor(w) for _ in range(3)]
        defense = await _defense(w, project["id"])
        assert (defense["judges"], defense["result"], defense["pass_mark"]) == ([], None, 60)
        r = await call(w, "staff", "PUT", f"/defenses/{defense['id']}/panel", json={"judges": judges})
        assert r.status_code == 200 and sorted(r.json()["judges"]) == sorted(judges), r.text
        # Not before every judge has scored.
        problem(await call(w, "staff", "POST", f"/defenses/{defense['id']}/decision", json={}), 409, "mentoring_defense_scores_missing")
        given = [({"method": 8, "presentation": 16}, 80.0), ({"method": 6.5, "presentation": 10}, 61.25), ({"method": 4, "presentation": 4}, 35.0)]
        for j, (scores, total) in zip(judges, given, strict=True):
            row = await service.score(s, _judge(j), uuid.UUID(defense["id"]), scores)
            assert float(row.total) == total
        # A judge changes their mind before the decision: the score is replaced, both in the record.
        row = await service.score(s, _judge(judges[2]), uuid.UUID(defense["id"]), {"method": 5, "presentation": 8})
        assert float(row.total) == 47.5 and await _record(w, DefenseScore, row.id) == ["defense.scored", "defense.scored"]
        await s.flush()
        r = await call(w, "staff", "POST", f"/defenses/{defense['id']}/decision", json={"note": "A careful method; present the bound."})
        assert r.status_code == 200, r.text
        decided = r.json()
        assert (decided["result"], decided["score"]) == ("passed", round((80 + 61.25 + 47.5) / 3, 4))
        [event] = (await s.execute(sa.select(Event).where(Event.type == "mentoring.defense.completed", Event.subject == project["id"]))).scalars()
        assert {k: event.payload[k] for k in ("project_id", "defense_id", "student_ids", "discipline", "result")} == {
            "project_id": project["id"], "defense_id": defense["id"], "student_ids": [w.ids["student"]], "discipline": "math", "result": "passed"}
        assert event.payload["score"] == decided["score"]
        # Once: deciding again, or scoring after it, is refused and nothing more goes out.
        problem(await call(w, "staff", "POST", f"/defenses/{defense['id']}/decision", json={}), 409, "mentoring_defense_decided")
        refused = await _raises(service.score(s, _judge(judges[0]), uuid.UUID(defense["id"]), {"method": 1, "presentation": 1}))
        assert refused == "mentoring_defense_decided"
        assert await _count(w, Event, Event.type == "mentoring.defense.completed", Event.subject == project["id"]) == 1
        assert await _record(w, Defense, defense["id"]) == ["defense.scheduled", "defense.decided"]
        # The student and the coordinator read the result; the note too (they may see the student's records).
        for who in ("student", "coordinator"):
            seen = (await call(w, who, "GET", f"/defenses/{defense['id']}")).json()
            assert (seen["result"], seen["note"]) == ("passed", "A careful method; present the bound."), who
        # After the decision a project may have another defense.
        await _defense(w, project["id"], days=80)


async def _raises(awaitable) -> str | None:
    from shared.problems import ProblemError

    try:
        await awaitable
    except ProblemError as exc:
        return exc.code
    return None


async def test_the_reminder_timer_is_held_until_its_time_and_a_moved_due_date_disarms_the_old_one(w):
    s = w.tx.session
    # The reminders' consumer subscribed (as its process does at start), so publishing fans out to it.
    await s.execute(sa.dialects.postgresql.insert(Subscription).values(consumer="mentoring.reminders", event_type="mentoring.milestone.due")
                    .on_conflict_do_nothing())
    with clock.use_clock(clock.FrozenClock()) as moved:
        project = await _project(w, members=[w.ids["student"]], mentor_id=w.ids["mentor"])
        due = clock.now() + timedelta(days=10)
        milestone = (await call(w, "staff", "POST", f"/projects/{project['id']}/milestones",
                                json={"title": "Draft", "due_at": due.isoformat(), "description": "A first draft."})).json()
        later = due + timedelta(days=4)
        r = await call(w, "mentor", "PATCH", f"/milestones/{milestone['id']}", json={"due_at": later.isoformat()})
        assert r.status_code == 200 and r.json()["due_at"][:19] == later.isoformat()[:19], r.text
        timers = sorted((await s.execute(sa.select(Event).where(Event.type == "mentoring.milestone.due", Event.subject == milestone["id"]))).scalars(),
                        key=lambda e: e.id)
        assert [t.payload["due_at"][:19] for t in timers] == [due.isoformat()[:19], later.isoformat()[:19]]
        deliveries = {d.event_id: d for d in (await s.execute(sa.select(Delivery).where(
            Delivery.consumer == "mentoring.reminders", Delivery.event_id.in_([t.id for t in timers])))).scalars()}
        assert [deliveries[t.id].available_at for t in timers] == [due - timedelta(hours=72), later - timedelta(hours=72)]

        async def claimable() -> set[int]:
            rows = await claim_due(s, consumer="mentoring.reminders", types=["mentoring.milestone.due"], now=clock.now(), limit=10,
                                   retry=RetryPolicy(3, 1.0, 10.0))
            return {r.delivery_id for r in rows if r.delivery_id is not None}

        ours = {deliveries[t.id].id for t in timers}
        assert not await claimable() & ours  # held: neither is due
        moved.advance(days=7, minutes=1)  # past the first reminder time only
        assert await claimable() & ours == {deliveries[timers[0].id].id}

        class Delivered:
            def __init__(self, event: Event) -> None:
                self.event_id, self.payload = event.event_id, parse_for_consumer(event.type, event.version, event.payload)

        # The old timer (its due date moved) does nothing; the current one marks the milestone reminded, once.
        await service.on_milestone_due(s, Delivered(timers[0]))
        assert (await s.get(Milestone, uuid.UUID(milestone["id"]), populate_existing=True)).reminded_at is None
        moved.advance(days=4)
        for _ in range(2):
            await service.on_milestone_due(s, Delivered(timers[1]))
        found = await s.get(Milestone, uuid.UUID(milestone["id"]), populate_existing=True)
        assert found.reminded_at == clock.now()
        assert (await _record(w, Milestone, milestone["id"])).count("milestone.reminded") == 1
        # A due date in the past is refused, and nothing changes.
        past = (clock.now() - timedelta(hours=1)).isoformat()
        problem(await call(w, "mentor", "PATCH", f"/milestones/{milestone['id']}", json={"due_at": past}), 422, "mentoring_due_date_past")
        assert await _count(w, Event, Event.type == "mentoring.milestone.due", Event.subject == milestone["id"]) == 2


async def test_members_must_be_the_mentors_open_lab_mentees_in_the_discipline_and_nothing_is_half_stored(w):
    mentor = await register_mentor(w, disciplines=["math", "physics"])
    mine = await _mentee(w, mentor)
    paused = await _mentee(w, mentor, status=MentorshipStatus.paused)
    ended = await _mentee(w, mentor, status=MentorshipStatus.ended)
    physics = await _mentee(w, mentor, "physics")
    before = await _count(w, Project)
    # The world's student is the world mentor's mentee, not this one's.
    for members, code in (([mine, w.ids["student"]], "mentoring_member_not_mentee"), ([mine, ended], "mentoring_member_not_mentee"),
                          ([physics], "mentoring_member_not_mentee"), ([mine, mine], "mentoring_member_repeated"),
                          ([str(uuid.uuid4())], "mentoring_member_not_mentee")):
        problem(await call(w, "staff", "POST", "/projects", json={"title": "x", "abstract": ABSTRACT, "discipline": "math",
                                                                  "mentor_id": mentor, "members": members}), 422, code)
    # The world's mentor cannot start a project for another mentor, nor for a mentor no one registered.
    problem(await call(w, "mentor", "POST", "/projects", json={"title": "x", "abstract": ABSTRACT, "discipline": "math", "mentor_id": mentor,
                                                               "members": [mine]}), 404, "mentoring_mentor_not_found")
    problem(await call(w, "staff", "POST", "/projects", json={"title": "x", "abstract": ABSTRACT, "discipline": "math",
                                                              "mentor_id": str(uuid.uuid4()), "members": [mine]}), 404, "mentoring_mentor_not_found")
    problem(await call(w, "staff", "POST", "/projects", json={"title": "x", "abstract": ABSTRACT, "discipline": "math", "members": [mine]}),
            404, "mentoring_mentor_not_found")
    # Seven members, none, a NUL, an abstract too long, a blank title: refused by the schema.
    for body in ({"members": [mine] * 7}, {"members": []}, {"title": "a\u0000b"}, {"abstract": "x" * 4001}, {"title": "   "}):
        r = await call(w, "staff", "POST", "/projects", json={"title": "x", "abstract": ABSTRACT, "discipline": "math", "mentor_id": mentor,
                                                              "members": [mine], **body})
        assert r.status_code == 422, (body, r.text)
    assert await _count(w, Project) == before and await _count(w, ProjectMember, ProjectMember.student_id == uuid.UUID(mine)) == 0
    # A paused mentorship is still open: the student may be a member. A retried create (same key) creates nothing more.
    body = {"title": "x", "abstract": ABSTRACT, "discipline": "math", "mentor_id": mentor, "members": [mine, paused]}
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first, again = [await w.clients["mentoring"].post("/projects", json=body, headers={**w.caller("staff").headers, **key}) for _ in range(2)]
    assert first.status_code == again.status_code == 201 and first.json() == again.json(), again.text
    assert sorted(first.json()["members"]) == sorted([mine, paused])
    assert await _count(w, Project) == before + 1


async def test_each_reader_sees_only_the_projects_of_their_students_and_judges_only_what_they_judge(w):
    mentor = await register_mentor(w)
    await _mentee(w, mentor, student=w.ids["child"])
    child_project = await _project(w, mentor_id=mentor, members=[w.ids["child"]])
    elsewhere = await _mentee(w, mentor, school="school_b")
    other_project = await _project(w, mentor_id=mentor, members=[elsewhere])
    milestone = (await call(w, "staff", "POST", f"/projects/{child_project['id']}/milestones", json={
        "title": "Plan", "due_at": (clock.now() + timedelta(days=9)).isoformat(), "description": "The plan of work."})).json()

    async def ids(who: str, path: str) -> set[str]:
        r = await call(w, who, "GET", path, params={"limit": 200})
        assert r.status_code == 200, r.text
        return {x["id"] for x in r.json()["items"]}

    assert child_project["id"] in await ids("guardian", "/projects")
    assert child_project["id"] in await ids("coordinator", "/projects") and other_project["id"] not in await ids("coordinator", "/projects")
    for who in ("student", "mentor"):  # not their project: neither listed nor read
        assert not {child_project["id"], other_project["id"]} & await ids(who, "/projects")
        problem(await call(w, who, "GET", f"/projects/{child_project['id']}"), 404, "mentoring_project_not_found")
        assert await ids(who, f"/projects/{child_project['id']}/milestones") == set()
        assert await ids(who, f"/milestones/{milestone['id']}/submissions") == set()
    assert await ids("guardian", f"/projects/{child_project['id']}/milestones") == {milestone["id"]}
    # The world's mentor, once a judge of the child's defense, reads the project and the defense, not its milestones.
    judges = [w.ids["mentor"], await register_mentor(w), await register_mentor(w)]
    defense = await _defense(w, child_project["id"])
    assert (await call(w, "staff", "PUT", f"/defenses/{defense['id']}/panel", json={"judges": judges})).status_code == 200
    assert child_project["id"] in await ids("mentor", "/projects") and defense["id"] in await ids("mentor", "/defenses")
    assert await ids("mentor", f"/projects/{child_project['id']}/milestones") == set()
    assert defense["id"] in await ids("guardian", "/defenses") and defense["id"] not in await ids("student", "/defenses")
    problem(await call(w, "student", "GET", f"/defenses/{defense['id']}"), 404, "mentoring_defense_not_found")
    # Scored and decided: the guardian reads the result and staff's note; the judge from outside the result, not the note.
    before = (await call(w, "guardian", "GET", f"/defenses/{defense['id']}")).json()
    assert (before["result"], before["score"], before["note"]) == (None, None, None)
    r = await call(w, "mentor", "PUT", f"/defenses/{defense['id']}/scores", json={"scores": {"method": 8, "presentation": 12}})
    assert r.status_code == 200, r.text
    for j in judges[1:]:
        await service.score(w.tx.session, _judge(j), uuid.UUID(defense["id"]), {"method": 9, "presentation": 20})
    assert len((await call(w, "mentor", "GET", f"/defenses/{defense['id']}/scores")).json()) == 1  # their own, until the decision
    r = await call(w, "staff", "POST", f"/defenses/{defense['id']}/decision", json={"note": "Shy at first, then very clear."})
    assert r.status_code == 200, r.text
    seen = (await call(w, "guardian", "GET", f"/defenses/{defense['id']}")).json()
    assert (seen["result"], seen["note"]) == ("passed", "Shy at first, then very clear.")
    judged = (await call(w, "mentor", "GET", f"/defenses/{defense['id']}")).json()
    assert (judged["result"], judged["score"], judged["note"]) == ("passed", seen["score"], None)
    assert len((await call(w, "mentor", "GET", f"/defenses/{defense['id']}/scores")).json()) == 3
    problem(await call(w, "guardian", "GET", f"/defenses/{defense['id']}/scores"), 403, "forbidden")
    # Unknown ids: each its own 404.
    unknown = str(uuid.uuid4())
    problem(await call(w, "staff", "GET", f"/projects/{unknown}"), 404, "mentoring_project_not_found")
    problem(await call(w, "staff", "GET", f"/projects/{unknown}/milestones"), 404, "mentoring_project_not_found")
    problem(await call(w, "staff", "GET", f"/milestones/{unknown}/submissions"), 404, "mentoring_milestone_not_found")
    problem(await call(w, "staff", "GET", f"/defenses/{unknown}"), 404, "mentoring_defense_not_found")
    problem(await call(w, "staff", "GET", f"/defenses/{unknown}/scores"), 404, "mentoring_defense_not_found")
    problem(await call(w, "mentor", "PUT", f"/submissions/{unknown}/review", json={"review": "accepted"}), 404, "mentoring_submission_not_found")


async def test_only_members_submit_only_the_mentor_manages_and_reviews_and_refusals_store_nothing(w):
    mentor = await register_mentor(w)
    mine = await _mentee(w, mentor)
    project = await _project(w, mentor_id=mentor, members=[mine])
    due = (clock.now() + timedelta(days=9)).isoformat()
    # The world's mentor is not this project's: they set no milestone on it; a past due date is refused.
    problem(await call(w, "mentor", "POST", f"/projects/{project['id']}/milestones", json={"title": "x", "due_at": due, "description": "y"}),
            404, "mentoring_project_not_found")
    past = (clock.now() - timedelta(minutes=1)).isoformat()
    problem(await call(w, "staff", "POST", f"/projects/{project['id']}/milestones", json={"title": "x", "due_at": past, "description": "y"}),
            422, "mentoring_due_date_past")
    for body in ({"due_at": "2036-01-01T00:00:00"}, {"description": "x" * 4001}, {"title": "x\u0000"}):  # no zone, too long, a NUL
        r = await call(w, "staff", "POST", f"/projects/{project['id']}/milestones", json={"title": "x", "due_at": due, "description": "y", **body})
        assert r.status_code == 422, (body, r.text)
    assert await _count(w, Milestone, Milestone.project_id == uuid.UUID(project["id"])) == 0
    assert await _count(w, Event, Event.type == "mentoring.milestone.due", Event.payload["project_id"].astext == project["id"]) == 0
    milestone = (await call(w, "staff", "POST", f"/projects/{project['id']}/milestones", json={"title": "x", "due_at": due, "description": "y"})).json()
    # The world's student is no member: no such milestone for them; nor is a link that is not https, or a huge text, taken.
    problem(await call(w, "student", "POST", f"/milestones/{milestone['id']}/submissions", json={"text": "mine"}), 404, "mentoring_milestone_not_found")
    problem(await call(w, "mentor", "PATCH", f"/milestones/{milestone['id']}", json={"title": "mine now"}), 404, "mentoring_milestone_not_found")
    submitted = await service.submit(w.tx.session, Principal(id=mine, kind="user", roles=frozenset({"student"})), uuid.UUID(milestone["id"]),
                                     service.SubmissionIn(text="The member's work."))
    for body in ({"text": "x", "link": "http://example.org"}, {"text": "x", "link": "javascript:alert(1)"}, {"text": "x" * 8001},
                 {"text": "\u0000"}):
        r = await call(w, "student", "POST", f"/milestones/{milestone['id']}/submissions", json=body)
        assert r.status_code == 422, (body, r.text)
    # Only the project's mentor reviews: the world's mentor is told there is no such submission.
    problem(await call(w, "mentor", "PUT", f"/submissions/{submitted.id}/review", json={"review": "accepted"}), 404, "mentoring_submission_not_found")
    assert (await call(w, "staff", "PUT", f"/submissions/{submitted.id}/review", json={"review": "accepted"})).status_code == 403
    assert await _count(w, Submission, Submission.milestone_id == uuid.UUID(milestone["id"])) == 1
    assert (await w.tx.session.get(Submission, submitted.id, populate_existing=True)).review is None


async def test_a_panel_refuses_the_own_mentor_a_conflicted_or_paused_judge_and_a_proposed_one_is_balanced_and_clean(w):
    s = w.tx.session
    mentor = await register_mentor(w)
    mine = await _mentee(w, mentor, student=w.ids["child"])
    project = await _project(w, mentor_id=mentor, members=[mine])
    defense = await _defense(w, project["id"])
    a, b, c, paused, related = [await register_mentor(w) for _ in range(5)]
    r = await call(w, "staff", "PUT", f"/mentors/{paused}", json={"kind": "lab", "type": "researcher", "affiliation": "x", "disciplines": ["math"],
                                                                  "lab_capacity": 3, "active": False})
    assert r.status_code == 200, r.text
    r = await call(w, "staff", "POST", f"/mentors/{related}/conflicts", json={"student_id": w.ids["child"], "kind": "relative"})
    assert r.status_code == 201, r.text
    path = f"/defenses/{defense['id']}/panel"
    cases = [
        ([a, b, mentor], 422, "mentoring_judge_not_eligible", "the project's own mentor"),
        ([a, b, paused], 422, "mentoring_judge_not_eligible", "paused"),
        ([a, b, w.ids["other_mentor"]], 422, "mentoring_judge_not_eligible", "gives life mentoring only"),
        ([a, b, str(uuid.uuid4())], 422, "mentoring_judge_not_eligible", "not a registered mentor"),
        ([a, b, related], 422, "mentoring_judge_conflicted", "relative"),
        ([a, b, a], 422, "mentoring_judge_repeated", None),
    ]
    for judges, status, code, words in cases:
        body = problem(await call(w, "staff", "PUT", path, json={"judges": judges}), status, code)
        assert words is None or words in body["detail"], body
    # Two judges or eight, or both ways at once: refused by the schema.
    for judges in ([a, b], [a, b, c, paused, related, mentor, w.ids["mentor"], str(uuid.uuid4())]):  # 2, 8
        assert (await call(w, "staff", "PUT", path, json={"judges": judges})).status_code == 422
    problem(await call(w, "staff", "PUT", path, json={"judges": [a, b, c], "size": 3}), 422, "mentoring_panel_one_way")
    problem(await call(w, "staff", "PUT", path, json={}), 422, "mentoring_panel_one_way")
    assert await _count(w, Judge, Judge.defense_id == uuid.UUID(defense["id"])) == 0
    # Proposed: never the own mentor, the paused or the conflicted one, and the loads of undecided defenses balanced.
    busy = await register_mentor(w)
    for _ in range(2):
        other = await _project(w, mentor_id=mentor, members=[mine], title="Another")
        other_defense = await _defense(w, other["id"], days=50)
        r = await call(w, "staff", "PUT", f"/defenses/{other_defense['id']}/panel", json={"judges": [busy, a, b]})
        assert r.status_code == 200, r.text
    r = await call(w, "staff", "PUT", path, json={"size": 3})
    assert r.status_code == 200, r.text
    proposed = set(r.json()["judges"])
    assert len(proposed) == 3 and not proposed & {mentor, paused, related, w.ids["other_mentor"]}
    # Loads on undecided defenses: busy, a and b two each (and the world's judge_1 and judge_2, two each),
    # the world's mentor and mentor_b one each, c none: the least loaded three (the world's life-only mentor is no judge).
    assert proposed == {c, w.ids["mentor"], w.ids["mentor_b"]}, proposed
    assert await _record(w, Judge, (await s.execute(sa.select(Judge.id).where(Judge.defense_id == uuid.UUID(defense["id"])))).scalars().first()) == [
        "judge.assigned"]


async def test_judges_score_only_their_defense_on_the_rubric_and_see_only_their_own_until_the_decision(w):
    s = w.tx.session
    project = await _project(w, mentor_id=w.ids["mentor"], members=[w.ids["student"]])
    defense = await _defense(w, project["id"])
    did = uuid.UUID(defense["id"])
    problem(await call(w, "staff", "POST", f"/defenses/{defense['id']}/decision", json={}), 409, "mentoring_panel_missing")
    judges = [await register_mentor(w) for _ in range(3)]
    assert (await call(w, "staff", "PUT", f"/defenses/{defense['id']}/panel", json={"judges": judges})).status_code == 200
    # The project's own mentor is no judge: not on the panel.
    problem(await call(w, "mentor", "PUT", f"/defenses/{defense['id']}/scores", json={"scores": {"method": 5, "presentation": 5}}), 404,
            "mentoring_not_a_judge")
    problem(await call(w, "mentor", "GET", f"/defenses/{defense['id']}/scores"), 404, "mentoring_not_a_judge")
    # Off the rubric: every problem at once, nothing stored.
    from shared.problems import ProblemError

    try:
        await service.score(s, _judge(judges[0]), did, {"method": 7.25, "presentation": 21, "style": 3})
        raise AssertionError("scores off the rubric were taken")
    except ProblemError as exc:
        assert exc.code == "mentoring_defense_scores_invalid"
        assert sorted((e["field"], e["type"]) for e in exc.errors) == [
            ("method", "off_step"), ("presentation", "out_of_scale"), ("style", "unknown")]
    for scores in ({"method": 5}, {"method": True, "presentation": 3}, {"method": "5", "presentation": 3}, {"method": -1, "presentation": 3}):
        assert await _raises(service.score(s, _judge(judges[0]), did, scores)) == "mentoring_defense_scores_invalid", scores
    assert await _count(w, DefenseScore, DefenseScore.defense_id == did) == 0
    # The panel is fixed once scoring begins; a judge sees only their own score until the decision.
    await service.score(s, _judge(judges[0]), did, {"method": 7, "presentation": 10})
    await service.score(s, _judge(judges[1]), did, {"method": 9, "presentation": 20})
    problem(await call(w, "staff", "PUT", f"/defenses/{defense['id']}/panel", json={"size": 3}), 409, "mentoring_defense_scoring_began")
    assert [x.mentor_id for x in await service.scores_of(s, _judge(judges[0]), did)] == [uuid.UUID(judges[0])]
    assert len((await call(w, "staff", "GET", f"/defenses/{defense['id']}/scores")).json()) == 2
    body = problem(await call(w, "staff", "POST", f"/defenses/{defense['id']}/decision", json={}), 409, "mentoring_defense_scores_missing")
    assert "2 of the 3" in body["detail"]
    assert (await s.get(Defense, did, populate_existing=True)).decided_at is None
    # A conflict declared after the panel was named: the judge stands aside.
    r = await call(w, "staff", "POST", f"/mentors/{judges[2]}/conflicts", json={"student_id": w.ids["student"], "kind": "taught",
                                                                                "reason": "Teaches the student's olympiad class."})
    assert r.status_code == 201, r.text
    assert await _raises(service.score(s, _judge(judges[2]), did, {"method": 1, "presentation": 1})) == "mentoring_judge_conflicted"
    # Below the pass mark: failed. After the decision every judge sees every score.
    assert await conflicts.withdraw(s, assessor_id=uuid.UUID(judges[2]), student_id=uuid.UUID(w.ids["student"]), kind="taught", by=w.ids["staff"])
    await service.score(s, _judge(judges[2]), did, {"method": 0, "presentation": 0})
    await s.flush()
    r = await call(w, "staff", "POST", f"/defenses/{defense['id']}/decision", json={})
    assert r.status_code == 200 and r.json()["result"] == "failed", r.text
    assert len(await service.scores_of(s, _judge(judges[0]), did)) == 3


async def test_scores_off_the_rubric_are_answered_all_at_once_over_http_and_a_judge_changes_theirs_until_the_decision(w):
    path = f"/defenses/{w.ids['defense_b']}/scores"  # the world's mentor sits on defense_b's panel
    body = problem(await call(w, "mentor", "PUT", path, json={"scores": {"method": 11, "style": 1}}), 422, "mentoring_defense_scores_invalid")
    assert sorted((e["field"], e["type"]) for e in body["errors"]) == [("method", "out_of_scale"), ("presentation", "missing"), ("style", "unknown")]
    assert (await call(w, "mentor", "GET", path)).json() == []
    for scores in ({"method": 4, "presentation": 5}, {"method": 6, "presentation": 9}):
        r = await call(w, "mentor", "PUT", path, json={"scores": scores})
        assert r.status_code == 200, r.text
    mine = (await call(w, "mentor", "GET", path)).json()
    assert [(x["mentor_id"], x["scores"], x["total"]) for x in mine] == [(w.ids["mentor"], {"method": 6, "presentation": 9}, round(100 * (2 * 0.6 + 0.9) / 3, 4))]
    assert (await call(w, "student", "PUT", path, json={"scores": {"method": 6, "presentation": 9}})).status_code == 403
    assert (await call(w, "coordinator", "GET", path)).status_code == 403


async def test_a_defense_is_scheduled_in_the_future_on_a_rubric_that_holds_once_at_a_time(w):
    project = await _project(w, mentor_id=w.ids["mentor"], members=[w.ids["student"]])
    path = f"/projects/{project['id']}/defenses"
    soon = (clock.now() + timedelta(days=3)).isoformat()
    base = {"starts_at": soon, "place": "Room 1", "rubric": RUBRIC, "pass_mark": 60}
    problem(await call(w, "staff", "POST", path, json={**base, "starts_at": (clock.now() - timedelta(hours=1)).isoformat()}), 422,
            "mentoring_defense_time_past")
    bad = {"criteria": [{"key": "a", "title": "A", "weight": 1, "min": 5, "max": 5}]}
    problem(await call(w, "staff", "POST", path, json={**base, "rubric": bad}), 422, "mentoring_rubric_invalid")
    twice = {"criteria": [{"key": "a", "title": "A", "weight": 1, "max": 5}, {"key": "a", "title": "B", "weight": 1, "max": 5}]}
    problem(await call(w, "staff", "POST", path, json={**base, "rubric": twice}), 422, "mentoring_rubric_invalid")
    for body in ({"pass_mark": 101}, {"pass_mark": -1}, {"place": "x" * 201}, {"starts_at": "2036-01-01T09:00:00"}):
        assert (await call(w, "staff", "POST", path, json={**base, **body})).status_code == 422, body
    problem(await call(w, "staff", "POST", f"/projects/{uuid.uuid4()}/defenses", json=base), 404, "mentoring_project_not_found")
    assert await _count(w, Defense, Defense.project_id == uuid.UUID(project["id"])) == 0
    first = (await call(w, "staff", "POST", path, json=base)).json()
    body = problem(await call(w, "staff", "POST", path, json=base), 409, "mentoring_defense_pending")
    assert first["id"] in body["detail"]
    assert await _count(w, Defense, Defense.project_id == uuid.UUID(project["id"])) == 1


async def test_a_panel_that_cannot_be_proposed_names_its_constraint_and_stores_nothing(w):
    from services.mentoring.models import Mentor, MentorKind

    project = await _project(w, mentor_id=w.ids["mentor"], members=[w.ids["student"]])
    defense = await _defense(w, project["id"])
    # Every active research mentor but the project's own could sit: ask for one more than there are.
    able = await _count(w, Mentor, Mentor.active.is_(True), Mentor.kind != MentorKind.life, Mentor.person_id != uuid.UUID(w.ids["mentor"]))
    assert able + 1 <= 7, "the world has grown: pause some mentors here"
    body = problem(await call(w, "staff", "PUT", f"/defenses/{defense['id']}/panel", json={"size": max(3, able + 1)}), 409,
                   "mentoring_panel_infeasible")
    assert "panel_size" in body["detail"], body
    assert await _count(w, Judge, Judge.defense_id == uuid.UUID(defense["id"])) == 0
    # As many as there are, one of them in conflict with the member: the conflict is named.
    r = await call(w, "staff", "POST", f"/mentors/{w.ids['mentor_b']}/conflicts", json={"student_id": w.ids["student"], "kind": "relative"})
    assert r.status_code == 201, r.text
    body = problem(await call(w, "staff", "PUT", f"/defenses/{defense['id']}/panel", json={"size": max(3, able)}), 409,
                   "mentoring_panel_infeasible")
    assert "(conflicts)" in body["detail"], body
    assert await _count(w, Judge, Judge.defense_id == uuid.UUID(defense["id"])) == 0


async def test_judges_score_a_defense_from_its_start_not_before(w):
    project = await _project(w, mentor_id=w.ids["mentor_b"], members=[w.ids["student_b"]], discipline="chemistry")
    with clock.use_clock(clock.FrozenClock()) as moved:
        starts = clock.now() + timedelta(hours=2)
        r = await call(w, "staff", "POST", f"/projects/{project['id']}/defenses", json={
            "starts_at": starts.isoformat(), "place": "报告厅 2", "rubric": RUBRIC, "pass_mark": 60})
        assert r.status_code == 201, r.text
        defense = r.json()["id"]
        judges = [w.ids["mentor"], await register_mentor(w), await register_mentor(w)]
        assert (await call(w, "staff", "PUT", f"/defenses/{defense}/panel", json={"judges": judges})).status_code == 200
        path = f"/defenses/{defense}/scores"
        body = problem(await call(w, "mentor", "PUT", path, json={"scores": {"method": 5, "presentation": 5}}), 409,
                       "mentoring_defense_not_started")
        assert starts.isoformat() in body["detail"], body
        assert await _count(w, DefenseScore, DefenseScore.defense_id == uuid.UUID(defense)) == 0
        moved.advance(hours=2)
        r = await call(w, "mentor", "PUT", path, json={"scores": {"method": 5, "presentation": 5}})
        assert r.status_code == 200, r.text
        assert await _count(w, DefenseScore, DefenseScore.defense_id == uuid.UUID(defense)) == 1

"""The world the role matrix runs in: every service's real app, one set of people and records, real tokens.

The gateway is served over HTTP on a free port, so the other services fetch its JWKS and
verify tokens exactly as in production; the matrix itself talks to every app in-process.
All fixture data lives in one transaction on one connection that is rolled back at the end,
and each matrix request runs in a savepoint of its own, rolled back after it, so a create,
a withdrawal or a deletion by one call never changes what the next one sees.
"""

from __future__ import annotations

import random
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import import_module
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from services.cli import SERVICES
from services.gateway.identity import service as identity
from services.gateway.tokens import service as tokens
from shared import clock
from shared.db import get_session
from tests.identity.factories import id_number, link, make_school, make_user
from tests.servers import bound_socket, serve
from tests.tokens.support import PASSWORD, gateway_settings, password_hash


@dataclass
class Caller:
    """Someone calling a route: a label for reports, the role the table speaks of, their token."""

    label: str
    role: str | None  # None: no valid token at all
    headers: dict[str, str]
    user_id: str | None = None  # a person's account; None for machine clients and the anonymous


class Transaction:
    """The module's one connection and transaction; the gateway's request session lives inside it."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.session = self._new()

    def _new(self) -> AsyncSession:
        return AsyncSession(bind=self.conn, expire_on_commit=False, autoflush=False, join_transaction_mode="create_savepoint")

    async def request_session(self) -> AsyncIterator[AsyncSession]:
        """Replaces shared.db.get_session: the request works in the current session and only flushes."""
        yield self.session
        await self.session.flush()

    async def keep_setup(self) -> None:
        """Ends the setup: what it wrote stays in the module's transaction for every case to see."""
        await self.session.commit()  # releases the setup's savepoint; the outer transaction goes on
        await self.session.close()

    @asynccontextmanager
    async def case(self) -> AsyncIterator[None]:
        """One matrix request, in a savepoint rolled back afterwards."""
        savepoint = await self.conn.begin_nested()
        self.session = self._new()
        try:
            yield
        finally:
            await self.session.close()
            if savepoint.is_active:
                await savepoint.rollback()


@dataclass
class World:
    apps: dict[str, FastAPI]
    clients: dict[str, httpx.AsyncClient]
    tx: Transaction
    ids: dict[str, str] = field(default_factory=dict)
    callers: list[Caller] = field(default_factory=list)

    def caller(self, label: str) -> Caller:
        return next(c for c in self.callers if c.label == label)


def _closed_port_url() -> str:
    """A loopback URL nobody listens on: the gateway's view of services this world does not serve over HTTP."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()
    return url


def _settings_class(name: str):
    module = import_module(f"services.{name}.settings")
    return next(v for k, v in vars(module).items() if k.endswith("Settings") and getattr(v, "service_name", None) == name)


def _born(years: int) -> date:
    today = clock.today()
    return today.replace(year=today.year - years, day=min(today.day, 28)) - timedelta(days=40)


@asynccontextmanager
async def matrix_world(database_url: str, engine: AsyncEngine) -> AsyncIterator[World]:
    async with AsyncExitStack() as stack:
        conn = await engine.connect()
        stack.push_async_callback(conn.close)
        outer = await conn.begin()
        stack.push_async_callback(outer.rollback)
        tx = Transaction(conn)

        nowhere = _closed_port_url()
        gateway_sock, gateway_url = bound_socket()
        gateway = import_module("services.gateway.app").create_app(
            gateway_settings(database_url, **{f"{n}_url": nowhere for n in SERVICES if n != "gateway"})
        )
        gateway.dependency_overrides[get_session] = tx.request_session
        # Served over HTTP for the other services' JWKS fetches; the matrix calls it in-process.
        await stack.enter_async_context(serve(gateway, gateway_sock))
        apps: dict[str, FastAPI] = {"gateway": gateway}
        for name in SERVICES:
            if name == "gateway":
                continue
            factory = import_module(f"services.{name}.app").create_app
            app = factory(_settings_class(name)(
                database_url=database_url, env="test", events_enabled=False, gateway_url=gateway_url,
                # The world lives in one test transaction, which a first load could not see.
                directory_bootstrap=False,
            ))
            app.dependency_overrides[get_session] = tx.request_session
            await stack.enter_async_context(app.router.lifespan_context(app))
            apps[name] = app
        clients = {}
        for name, app in apps.items():
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            clients[name] = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url=f"http://{name}.test", timeout=10)
            )
        world = World(apps, clients, tx)
        await _populate(world)
        await tx.keep_setup()
        yield world


async def _populate(w: World) -> None:
    """The people and records every case needs, written through the real services and API."""
    s, http, ids = w.tx.session, w.clients["gateway"], w.ids
    tag = uuid.uuid4().hex[:6]
    school_a = await make_school(s, name=f"matrix A {tag}")
    school_b = await make_school(s, name=f"matrix B {tag}")
    partner = await identity.create_partner(session=s, name=f"matrix university {tag}")
    partner_q = await identity.create_partner(session=s, name=f"matrix other university {tag}")

    people = {
        "admin": await make_user(s, "admin"),
        "staff": await make_user(s, "staff"),
        "expert": await make_user(s, "expert"),
        "mentor": await make_user(s, "mentor"),
        "coordinator": await make_user(s, "coordinator", school=school_a),
        # 15: old enough to consent for themself.
        "student": await make_user(s, "student", school=school_a, grade=9, born=_born(15), phone="13912345678"),
        "guardian": await make_user(s, "guardian", phone="13987654321"),
        "partner": await make_user(s, "partner", partner=partner),
    }
    child = await make_user(s, "student", school=school_a, grade=5, born=_born(10))  # under 14
    other_student = await make_user(s, "student", school=school_b, grade=9, born=_born(15))
    await link(s, people["guardian"], child)
    for user in (*people.values(), other_student):
        user.password_hash = password_hash()
    await s.flush()

    partner_client, partner_secret = await tokens.create_client(
        s, client_id=f"matrix-uni-{tag}", name="Matrix University admissions", role="partner", scopes=[], partner_id=partner.id
    )
    service_client, service_secret = await tokens.create_client(
        s, client_id=f"matrix-svc-{tag}", name="matrix service", role="service", scopes=[], partner_id=None
    )
    ids.update(
        school_a=str(school_a.id), school_b=str(school_b.id), university=str(partner.id), other_university=str(partner_q.id),
        child=str(child.id), other_student=str(other_student.id),
        partner_client=partner_client.client_id, service_client=service_client.client_id,
        service_secret=service_secret, tag=tag,
        **{name: str(user.id) for name, user in people.items()},
    )

    # Real tokens: people sign in with the password grant, machine clients with client credentials.
    async def token(data: dict[str, str]) -> dict[str, str]:
        r = await http.post("/auth/token", data=data)
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    for role, user in people.items():
        headers = await token({"grant_type": "password", "username": user.username, "password": PASSWORD})
        w.callers.append(Caller(role, role, headers, str(user.id)))
    w.callers.append(
        Caller("partner client", "partner", await token({"grant_type": "client_credentials", "client_id": partner_client.client_id, "client_secret": partner_secret}))
    )
    w.callers.append(
        Caller("service", "service", await token({"grant_type": "client_credentials", "client_id": service_client.client_id, "client_secret": service_secret}))
    )
    other_headers = await token({"grant_type": "password", "username": other_student.username, "password": PASSWORD})

    # Consents, given and withdrawn through the API by the people entitled to.
    async def give(headers: dict[str, str], student: str, purpose: str, partner_id: str | None = None) -> str:
        body: dict[str, Any] = {"student_id": student, "purpose": purpose, "text_version": f"{purpose.replace('_', '-')}-v1"}
        if partner_id:
            body["partner_id"] = partner_id
        r = await http.post("/consents", json=body, headers=headers)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    guardian, student = w.caller("guardian").headers, w.caller("student").headers
    ids["child_participation"] = await give(guardian, ids["child"], "participation")
    ids["child_sharing"] = await give(guardian, ids["child"], "partner_sharing", ids["university"])
    ids["student_participation"] = await give(student, ids["student"], "participation")
    ids["student_sharing_withdrawn"] = await give(student, ids["student"], "partner_sharing", ids["university"])
    r = await http.post(f"/consents/{ids['student_sharing_withdrawn']}/withdraw", headers=student)
    assert r.status_code == 200, r.text
    ids["other_sharing"] = await give(other_headers, ids["other_student"], "partner_sharing", ids["other_university"])

    await _fill_read_models(w, [*people.values(), child, other_student], [school_a, school_b], [(people["guardian"], child)],
                            partners=[partner, partner_q])
    await _selection(w)
    await _mentoring(w)
    await _courses_catalogue(w)
    await _courses_applications(w)
    await _courses_registration(w)
    await _courses_results(w)
    await _tracking(w)

    # One unmasked read, so the access log has a row to show.
    r = await http.get(
        f"/identity/students/{ids['student']}", params={"reveal": "phone"},
        headers={**w.caller("admin").headers, "X-Access-Reason": "matrix setup"},
    )
    assert r.status_code == 200, r.text


async def _courses_catalogue(w: World) -> None:
    """The catalogue (services/courses/catalogue/): `course_basic` (math, grades 7 to 9) and
    `course_extended` (its prerequisite course_basic); `term` from next week with its weekends
    block (`term_weekends`) and a winter block (`term_winter`); `section_base` of the basic course
    at the base, every Saturday 09:00-11:30 of the weekends block, taught by the staff member;
    `section_school_b` of the extended course hosted by school B, every Sunday 14:00-16:30, taught
    by the mentor."""
    from datetime import time, timedelta

    from services.courses.catalogue import service as catalogue
    from services.courses.catalogue.schemas import BlockIn, CourseIn, SectionIn, TermIn, WeeklyIn
    from shared import clock as _clock

    s, ids, staff, tag = w.tx.session, w.ids, _as(w, "staff"), w.ids["tag"]
    basic = await catalogue.create_course(s, staff, CourseIn(
        code=f"MATH-B-{tag}", title="数论初步", type="basic", discipline="math", level=1, min_grade=7, max_grade=9, hours=32,
        description="整除、同余与不定方程。"))
    extended = await catalogue.create_course(s, staff, CourseIn(
        code=f"MATH-E-{tag}", title="组合数学", type="extended", discipline="math", level=2, min_grade=7, max_grade=12, hours=48,
        prerequisites=[basic.id], description="计数、图论与极值问题。"))
    start = _clock.today() + timedelta(days=7)
    term = await catalogue.create_term(s, staff, TermIn(
        title=f"matrix term {tag}", starts_on=start, ends_on=start + timedelta(days=120), load_limit=4, blocks=[
            BlockIn(kind="weekends", starts_on=start, ends_on=start + timedelta(days=89)),
            BlockIn(kind="winter", starts_on=start + timedelta(days=90), ends_on=start + timedelta(days=120))]))
    weekends, winter = (await catalogue.blocks_of(s, [term.id]))[term.id]
    base = await catalogue.create_section(s, staff, SectionIn(
        course_id=basic.id, term_id=term.id, code="A", host_kind="base", teacher_id=uuid.UUID(ids["staff"]), place="泉州五中 科学楼 301",
        capacity=30, weekly=[WeeklyIn(block_id=weekends.id, weekday="saturday", starts=time(9), ends=time(11, 30))]))
    school_b = await catalogue.create_section(s, staff, SectionIn(
        course_id=extended.id, term_id=term.id, code="B", host_kind="school", host_id=uuid.UUID(ids["school_b"]),
        teacher_id=uuid.UUID(ids["mentor"]), teacher_name="陈老师", place="B 校 实验楼 2 层", capacity=20,
        weekly=[WeeklyIn(block_id=weekends.id, weekday="sunday", starts=time(14), ends=time(16, 30))]))
    ids.update(course_basic=str(basic.id), course_extended=str(extended.id), term=str(term.id), term_weekends=str(weekends.id),
               term_winter=str(winter.id), section_base=str(base.id), section_school_b=str(school_b.id))


def new_id_number() -> str:
    """A valid resident ID number no test is likely to have stored (random birth date and sequence)."""
    born = date(2012, 1, 1) + timedelta(days=random.randrange(700))
    return id_number(born, region=random.choice(("110105", "350203", "310101")), seq=random.randrange(1000))


def new_phone() -> str:
    return "139" + "".join(random.choices("0123456789", k=8))


async def _fill_read_models(w: World, users, schools, links, partners=()) -> None:
    """Each domain service's directory read model holds the world, as its consumer would have it."""
    from services.gateway.directory import records
    from services.gateway.identity import repository
    from shared.directory.store import apply, group_by_kind

    found = [await repository.get_link(w.tx.session, guardian.id, child.id) for guardian, child in links]
    directory = [
        *(records.person_record(u) for u in users),
        *(records.school_record(school) for school in schools),
        *(records.guardian_link_record(link) for link in found),
        *(records.partner_record(partner) for partner in partners),
    ]
    for app in w.apps.values():
        read_model = getattr(app.state, "directory", None)
        if read_model is not None:
            for batch in group_by_kind(directory).values():
                await apply(w.tx.session, read_model.tables, batch)
    await w.tx.session.flush()


# ---------------------------------------------------------------- selection

def _as(w: World, role: str):
    from shared.tokens import Principal

    return Principal(id=w.ids[role], kind="user", roles=frozenset({role}))


async def _selection(w: World) -> None:
    """Two campaigns: `campaign_open` taking nominations (math and physics), `campaign_tests` in its
    IQ test with the student and the child as candidates, each with an IQ result."""
    from decimal import Decimal

    from services.selection.assessments import service as assessments
    from services.selection.assessments.schemas import TestStage
    from services.selection.campaigns import service as campaigns
    from services.selection.campaigns.schemas import AdvanceIn, CampaignIn
    from services.selection.models import ScoreState
    from services.selection.nominations import service as nominations
    from services.selection.nominations.schemas import NominationIn

    s, ids = w.tx.session, w.ids
    weights = {"iq_test": 1, "written_test": 1, "interview": 2}
    math = {"discipline": "math", "quota": 10, "min_grade": 4, "max_grade": 9, "weights": weights}
    physics = {**math, "discipline": "physics"}
    staff, coordinator, student = _as(w, "staff"), _as(w, "coordinator"), _as(w, "student")
    statement = "Strong in olympiad problems and curious about proofs."
    made = {}
    for name, year in (("campaign_open", 2090), ("campaign_tests", 2091)):
        campaign = await campaigns.create(s, staff, CampaignIn(year=year, title=f"Matrix {year}", school_limit=5, disciplines=[math, physics]))
        await campaigns.advance(s, staff, campaign.id, AdvanceIn(to="nomination"))
        made[name] = campaign
        ids[name] = str(campaign.id)
    tests = made["campaign_tests"]
    own, _ = await nominations.nominate(s, student, tests.id, NominationIn(source="self", discipline="math", statement=statement))
    child, _ = await nominations.nominate(
        s, coordinator, tests.id, NominationIn(source="school", student_id=ids["child"], discipline="math", statement=statement)
    )
    open_own, _ = await nominations.nominate(
        s, student, made["campaign_open"].id, NominationIn(source="self", discipline="math", statement=statement)
    )
    ids.update(cand_student=str(own.id), cand_child=str(child.id), cand_open=str(open_own.id))
    await campaigns.advance(s, staff, tests.id, AdvanceIn(to="iq_test", reason="matrix: nominations are in"))
    await assessments.write(s, ids["staff"], TestStage.iq_test, [
        (own.id, ScoreState.scored, Decimal(118), None), (child.id, ScoreState.absent, None, "ill"),
    ])
    await s.flush()
    await _selection_results(w, staff, coordinator, student, statement)


async def _selection_results(w: World, staff, coordinator, student, statement: str) -> None:
    """`campaign_deciding` in its decision stage and `campaign_published` open to objections, each
    with the student and the child scored on both tests (the interview not weighed); the
    mentor has objected to the student's admission (`objection`)."""
    from decimal import Decimal

    from services.selection.assessments import service as assessments
    from services.selection.assessments.schemas import TestStage
    from services.selection.campaigns import service as campaigns
    from services.selection.campaigns.schemas import AdvanceIn, CampaignIn
    from services.selection.models import ScoreState
    from services.selection.nominations import service as nominations
    from services.selection.nominations.schemas import NominationIn
    from services.selection.results import service as results
    from services.selection.results.schemas import DecisionIn

    s, ids = w.tx.session, w.ids
    math = {"discipline": "math", "quota": 2, "min_grade": 4, "max_grade": 9, "weights": {"iq_test": 1, "written_test": 1, "interview": 0}}
    for name, year in (("campaign_deciding", 2093), ("campaign_published", 2094)):
        c = await campaigns.create(s, staff, CampaignIn(year=year, title=f"Matrix {year}", school_limit=5, disciplines=[math]))
        await campaigns.advance(s, staff, c.id, AdvanceIn(to="nomination"))
        own, _ = await nominations.nominate(s, student, c.id, NominationIn(source="self", discipline="math", statement=statement))
        child, _ = await nominations.nominate(
            s, coordinator, c.id, NominationIn(source="school", student_id=ids["child"], discipline="math", statement=statement)
        )
        await campaigns.advance(s, staff, c.id, AdvanceIn(to="iq_test", reason="matrix"))
        for stage, to in ((TestStage.iq_test, "written_test"), (TestStage.written_test, "interview")):
            await assessments.write(s, ids["staff"], stage, [(own.id, ScoreState.scored, Decimal(90), None), (child.id, ScoreState.scored, Decimal(80), None)])
            await campaigns.advance(s, staff, c.id, AdvanceIn(to=to))
        await campaigns.advance(s, staff, c.id, AdvanceIn(to="decision", reason="matrix: the interview does not count"))
        ids[name] = str(c.id)
        prefix = name.removeprefix("campaign_")
        ids[f"{prefix}_student"], ids[f"{prefix}_child"] = str(own.id), str(child.id)
    published = uuid.UUID(ids["campaign_published"])
    for key in ("published_student", "published_child"):
        await results.decide(s, staff, uuid.UUID(ids[key]), DecisionIn(outcome="admitted"))
    await campaigns.advance(s, staff, published, AdvanceIn(to="publication"))
    mentor = _as(w, "mentor")
    objection = await results.object_to(s, mentor, uuid.UUID(ids["published_student"]), "Why this student?")
    ids["objection"] = str(objection.id)
    from services.selection.panels import service as panels
    from services.selection.panels.schemas import ExpertIn

    await panels.register(s, staff, uuid.UUID(ids["expert"]), ExpertIn(
        type="professor", disciplines=["math"], affiliation="Matrix University, School of Mathematics", max_load=30,
    ))
    # `campaign_interview`: in its interview stage, one expert per candidate.
    c = await campaigns.create(s, staff, CampaignIn(year=2095, title="Matrix 2095", school_limit=5, panel_size=1, disciplines=[math]))
    await campaigns.advance(s, staff, c.id, AdvanceIn(to="nomination"))
    from shared.rubrics import Rubric

    rubric = Rubric.model_validate({"criteria": [{"key": "reasoning", "title": "Reasoning", "weight": 1, "min": 0, "max": 10}]})
    await panels.set_rubric(s, staff, c.id, "math", rubric)
    interviewed, _ = await nominations.nominate(s, student, c.id, NominationIn(source="self", discipline="math", statement=statement))
    for to in ("iq_test", "written_test", "interview"):
        await campaigns.advance(s, staff, c.id, AdvanceIn(to=to, reason="matrix"))
    await panels.save(s, staff, c.id)
    await panels.score(s, _as(w, "expert"), interviewed.id, {"reasoning": 7})
    ids.update(campaign_interview=str(c.id), cand_interview=str(interviewed.id))
    await s.flush()


# ---------------------------------------------------------------- mentoring

async def _mentoring(w: World) -> None:
    """The world's mentor registered (lab and life, math); the student and the child admitted in
    math (`need_student_lab`, `need_student_life`, `need_child_lab`, ...) and the other student
    in physics, by the admission handler; the mentor mentors the student (lab)."""
    from datetime import UTC, datetime

    from services.mentoring.mentors import service as mentoring
    from services.mentoring.mentors.schemas import MentorIn
    import sqlalchemy as sa

    from services.mentoring.models import Need, NeedKind, Preference

    s, ids = w.tx.session, w.ids
    await mentoring.register(s, _as(w, "staff"), uuid.UUID(ids["mentor"]), MentorIn(
        kind="both", type="professor", affiliation="Matrix University, School of Mathematics", disciplines=["math"],
        topics=["组合数学"], lab_capacity=5, life_capacity=5,
    ))
    for name, school, discipline in (("student", "school_a", "math"), ("child", "school_a", "math"), ("other_student", "school_b", "physics")):
        await mentoring.on_admitted(s, admitted_envelope(ids[name], ids[school], discipline))
        for kind in NeedKind:
            need = (await s.execute(sa.select(Need).where(Need.student_id == uuid.UUID(ids[name]), Need.kind == kind))).scalar_one()
            ids[f"need_{name}_{kind.value}"] = str(need.id)
    # A lab round whose window is open, and the student's list in it (the mentor, first).
    from datetime import timedelta as _days

    from services.mentoring.rounds import service as rounds
    from services.mentoring.rounds.schemas import RoundIn

    now = datetime.now(UTC)
    found = await rounds.create(s, _as(w, "staff"), RoundIn(kind="lab", cohort_year=2027, title="2027 lab mentors",
                                                             opens_at=now - _days(days=1), closes_at=now + _days(days=30)))
    ids["round_lab"] = str(found.id)
    await rounds.set_preferences(s, _as(w, "student"), found.id, uuid.UUID(ids["need_student_lab"]), [uuid.UUID(ids["mentor"])])
    [pref] = await rounds.preferences_of(s, found.id, uuid.UUID(ids["need_student_lab"]))
    ids["pref_student"] = str(pref.id)
    # An earlier lab round, closed, whose published run gave the student the mentor (lab, math).
    from services.mentoring.runs import service as runs

    done = await rounds.create(s, _as(w, "staff"), RoundIn(kind="lab", cohort_year=2027, title="2027 lab mentors, first round",
                                                            opens_at=now - _days(days=40), closes_at=now - _days(days=30)))
    await s.execute(sa.insert(Preference).values(id=uuid.uuid4(), round_id=done.id, need_id=uuid.UUID(ids["need_student_lab"]),
                                                 student_id=uuid.UUID(ids["student"]), mentor_id=uuid.UUID(ids["mentor"]), rank=1,
                                                 entered_by=ids["staff"], entered_at=now - _days(days=35)))
    run = await runs.draft(s, _as(w, "staff"), done.id)
    # Only the student's need is placed: the others ranked no one in that round.
    await runs.publish(s, _as(w, "staff"), done.id, run.id)
    ids.update(round_done=str(done.id), run_done=str(run.id))
    await s.flush()
    # projects: `project_a` (the mentor's, the student a member) with `milestone_a`, the student's
    # `submission_a` and `defense_a` (judges j1, j2 and mentor_b, every one scored, undecided);
    # `project_b` (mentor_b's, with student_b) with
    # `defense_b`, on whose panel the world's mentor sits (no score yet); `project_c` (the
    # mentor's, no defense).
    from services.mentoring.db import chain as _chain, directory as _directory
    from services.mentoring.models import Mentorship, MentorshipStatus
    from services.mentoring.projects import service as projects
    from services.mentoring.projects.schemas import DefenseIn, MilestoneIn, PanelIn, ProjectIn, SubmissionIn
    from shared.directory.store import apply as _apply
    from shared.events.contracts.identity import PersonRecord as _Person
    from shared.tokens import Principal as _Principal

    staff = _as(w, "staff")
    extra = {name: uuid.uuid4() for name in ("mentor_b", "judge_1", "judge_2")}
    await _apply(s, _directory.tables, [_Person(version=10**9, person_id=p, roles=["mentor"], display_name=f"评委 {n}")
                                                   for n, p in extra.items()])
    for name, person in extra.items():
        await mentoring.register(s, staff, person, MentorIn(
            kind="lab", type="researcher" if name == "mentor_b" else "professor", affiliation="Matrix Institute",
            disciplines=["chemistry"] if name == "mentor_b" else ["math", "chemistry"], lab_capacity=3, life_capacity=0,
        ))
        ids[name] = str(person)
    # `student_b` (school B, no account of the world's callers), admitted in chemistry in a cohort no round of the world takes, mentor_b's mentee.
    student_b = uuid.uuid4()
    await _apply(s, _directory.tables, [_Person(version=10**9, person_id=student_b, roles=["student"], display_name="学生乙",
                                                school_id=uuid.UUID(ids["school_b"]), grade=8)])
    await mentoring.on_admitted(s, admitted_envelope(str(student_b), ids["school_b"], "chemistry", cohort_year=2019))
    need_b = (await s.execute(sa.select(Need.id).where(Need.student_id == student_b, Need.kind == NeedKind.lab))).scalar_one()
    ids["student_b"] = str(student_b)
    lab_b = uuid.uuid4()
    await s.execute(sa.insert(Mentorship).values(
        id=lab_b, need_id=need_b, student_id=student_b, mentor_id=extra["mentor_b"],
        kind=NeedKind.lab, discipline="chemistry", status=MentorshipStatus.active, started_at=now))
    await _chain.append(s, kind="mentorship.started", table=Mentorship.__table__, row_id=lab_b, actor=ids["staff"])
    abstract = "Counting lattice paths that avoid a diagonal, and what the generating function says about them."
    a = await projects.create(s, staff, ProjectIn(title="Lattice paths", abstract=abstract, discipline="math", mentor_id=uuid.UUID(ids["mentor"]),
                                                  members=[uuid.UUID(ids["student"])]))
    b = await projects.create(s, staff, ProjectIn(title="Crystal growth", abstract=abstract, discipline="chemistry", mentor_id=extra["mentor_b"],
                                                  members=[student_b]))
    c = await projects.create(s, staff, ProjectIn(title="Primes in progressions", abstract=abstract, discipline="math",
                                                  mentor_id=uuid.UUID(ids["mentor"]), members=[uuid.UUID(ids["student"])]))
    milestone = await projects.add_milestone(s, staff, a.id, MilestoneIn(title="Literature review", due_at=now + _days(days=30),
                                                                         description="Read and summarise the three papers."))
    submission = await projects.submit(s, _as(w, "student"), milestone.id, SubmissionIn(text="A summary of the three papers.",
                                                                                       link="https://example.org/review"))
    rubric = {"criteria": [{"key": "method", "title": "Method", "weight": 2, "min": 0, "max": 10},
                           {"key": "presentation", "title": "Presentation", "weight": 1, "min": 0, "max": 10}]}
    # Both defenses began yesterday (scheduled three days ago): their judges may score them.
    from shared import clock as _clock

    with _clock.use_clock(_clock.FrozenClock(now - _days(days=3))):
        defense_a = await projects.schedule(s, staff, a.id, DefenseIn(starts_at=now - _days(days=1), place="Room 301", rubric=rubric, pass_mark=60))
        defense_b = await projects.schedule(s, staff, b.id, DefenseIn(starts_at=now - _days(days=1), place="Room 302", rubric=rubric, pass_mark=60))
    await projects.set_panel(s, staff, defense_a.id, PanelIn(judges=[extra["judge_1"], extra["judge_2"], extra["mentor_b"]]))
    for person in (extra["judge_1"], extra["judge_2"], extra["mentor_b"]):
        await projects.score(s, _Principal(id=str(person), kind="user", roles=frozenset({"mentor"})), defense_a.id, {"method": 7, "presentation": 8})
    await projects.set_panel(s, staff, defense_b.id, PanelIn(judges=[uuid.UUID(ids["mentor"]), extra["judge_1"], extra["judge_2"]]))
    ids.update(project_a=str(a.id), project_b=str(b.id), project_c=str(c.id), milestone_a=str(milestone.id), submission_a=str(submission.id),
               defense_a=str(defense_a.id), defense_b=str(defense_b.id))
    # lectures: `lecture` (next month, given by the mentor) with the student, the child and the other
    # student registered (`lecture_reg_student`, ...); `lecture_past` (given by the mentor two days
    # ago) with the student registered before it started (`lecture_reg_past`).
    from shared import clock as _clock
    from services.mentoring.lectures import service as lectures
    from services.mentoring.lectures.schemas import LectureIn

    def _lecture(starts) -> LectureIn:
        return LectureIn(title="数学之美", abstract="从数论到密码学：一位研究员的三十年。", speaker_name="陈研究员", speaker_id=uuid.UUID(ids["mentor"]),
                         organisation="中国科学院数学与系统科学研究院", disciplines=["math"], starts_at=starts, ends_at=starts + _days(hours=2),
                         place="泉州五中 科学楼报告厅", capacity=50)

    upcoming = await lectures.create(s, _as(w, "staff"), _lecture(now + _days(days=30)))
    ids["lecture"] = str(upcoming.id)
    for name, by in (("student", "student"), ("child", "guardian"), ("other_student", "staff")):
        reg, _ = await lectures.register(s, _as(w, by), upcoming.id, uuid.UUID(ids[name]))
        ids[f"lecture_reg_{name}"] = str(reg.id)
    with _clock.use_clock(_clock.FrozenClock(now - _days(days=3))):
        past = await lectures.create(s, _as(w, "staff"), _lecture(now - _days(days=2)))
        reg, _ = await lectures.register(s, _as(w, "student"), past.id, None)
    ids.update(lecture_past=str(past.id), lecture_reg_past=str(reg.id))
    # mentorships (services/mentoring/mentorships/): their requests, meetings and goals.
    await _mentoring_mentorships(w)


async def _mentoring_mentorships(w: World) -> None:
    """`mentorship_student_lab` (the run's) with a meeting logged by each side
    (`meeting_mentor`, `meeting_student`), the student's goal with the mentor's update
    (`goal_student`, `update_student`) and the student's end request staff declined
    (`request_student`); another mentor (`other_mentor`) mentors the child (life,
    `mentorship_child_life`: `meeting_child`, `goal_child`, `update_child`) and the other student
    (life, paused: `mentorship_other_life`, with the mentor's pending re-match request `request_other`)."""
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa

    from services.mentoring.db import chain, directory
    from services.mentoring.mentors import service as mentoring
    from services.mentoring.mentors.schemas import MentorIn
    from services.mentoring.mentorships import service as mentorships
    from services.mentoring.mentorships.models import GoalUpdate, RequestKind
    from services.mentoring.mentorships.schemas import GoalIn, MeetingIn, ProgressIn
    from services.mentoring.models import Mentorship, MentorshipStatus, NeedKind
    from shared.chain import Change
    from shared.directory.store import apply
    from shared.events.contracts.identity import PersonRecord
    from shared.tokens import Principal

    s, ids = w.tx.session, w.ids
    other = uuid.uuid4()
    await apply(s, directory.tables, [PersonRecord(version=10**9, person_id=other, roles=["mentor"], display_name="李老师")])
    await mentoring.register(s, _as(w, "staff"), other, MentorIn(
        kind="life", type="teacher", affiliation="泉州第五中学", disciplines=[], topics=[], lab_capacity=0, life_capacity=2))
    ids["other_mentor"] = str(other)  # full with these two: no place left for the tests' runs
    other_mentor = Principal(id=str(other), kind="user", roles=frozenset({"mentor"}))
    began = datetime.now(UTC) - timedelta(days=10)
    for name, student in (("mentorship_child_life", "child"), ("mentorship_other_life", "other_student")):
        row = Mentorship(need_id=uuid.UUID(ids[f"need_{student}_life"]), student_id=uuid.UUID(ids[student]), mentor_id=other,
                         kind=NeedKind.life, discipline=None, status=MentorshipStatus.active, started_at=began)
        s.add(row)
        await s.flush()
        await chain.append_many(s, [Change("mentorship.started", ids["staff"], Mentorship.__table__, row.id)])
        ids[name] = str(row.id)
    await mentorships.pause(s, _as(w, "staff"), uuid.UUID(ids["mentorship_other_life"]), "The student is in hospital for a month.")
    lab = (await s.execute(sa.select(Mentorship.id).where(Mentorship.student_id == uuid.UUID(ids["student"])))).scalar_one()
    ids["mentorship_student_lab"] = str(lab)
    today = clock.today()
    for name, who, mentorship in (("student", _as(w, "student"), lab), ("mentor", _as(w, "mentor"), lab),
                                  ("child", other_mentor, uuid.UUID(ids["mentorship_child_life"]))):
        meeting = await mentorships.log_meeting(s, who, mentorship, MeetingIn(
            held_on=today, minutes=90, topic="组合数学：图论入门", notes="Worked through Hall's theorem; practise more proofs."))
        ids[f"meeting_{name}"] = str(meeting.id)
    for name, setter, updater, mentorship in (("student", _as(w, "student"), _as(w, "mentor"), lab),
                                              ("child", other_mentor, other_mentor, uuid.UUID(ids["mentorship_child_life"]))):
        goal = await mentorships.set_goal(s, setter, mentorship, GoalIn(title="Finish the olympiad problem set"))
        await mentorships.update_goal(s, updater, mentorship, goal.id, ProgressIn(percent=40, note="Half the chapters done."))
        ids[f"goal_{name}"] = str(goal.id)
        ids[f"update_{name}"] = str((await s.execute(sa.select(GoalUpdate.id).where(GoalUpdate.goal_id == goal.id))).scalar_one())
    declined = await mentorships.make_request(s, _as(w, "student"), lab, RequestKind.end, "Too many evening meetings this term.")
    await mentorships.decide(s, _as(w, "staff"), lab, declined.id, approve=False, note="The mentor will move meetings to weekends.")
    pending = await mentorships.make_request(s, other_mentor, uuid.UUID(ids["mentorship_other_life"]), RequestKind.rematch,
                                             "Our schedules no longer meet.")
    ids.update(request_student=str(declined.id), request_other=str(pending.id))
    await s.flush()


async def _courses_applications(w: World) -> None:
    """Two courses (`course_a`, with its section `section_a`; `course_b`, nobody's application),
    made with the ORM; the student's pending course exemption of course_a (`exemption_student`),
    the child's pending exam exemption of section_a by the guardian (`exemption_child`), the other
    student's (`exemption_other`); grade skips: the student's waiting for staff
    (`grade_skip_student`), the child's by the guardian waiting for the coordinator
    (`grade_skip_child`), the other student's waiting for admin (`grade_skip_other`, approved by a
    coordinator of school B, `coordinator_b`, and staff)."""
    from datetime import date

    from services.courses.applications import service as applications
    from services.courses.applications.models import Level, Outcome
    from services.courses.applications.schemas import ExemptionIn, GradeSkipIn
    from services.courses.db import chain as _courses_chain, directory
    from services.courses.models import Course, CourseType, HostKind, Section, Term
    from shared.chain import Change
    from shared.directory.store import apply
    from shared.disciplines import Discipline
    from shared.events.contracts.identity import PersonRecord
    from shared.tokens import Principal

    s, ids, now = w.tx.session, w.ids, clock.now()
    made = dict(created_by=ids["staff"], updated_at=now)
    for name in ("course_a", "course_b"):
        course = Course(code=f"{name}-{ids['tag']}", title="数论初步", type=CourseType.extended, discipline=Discipline.math, level=2, min_grade=4,
                        max_grade=12, prerequisites=[], hours=32, description="同余、素数与不定方程。", **made)
        s.add(course)
        await s.flush()
        ids[name] = str(course.id)
    term = Term(title=f"2027 spring {ids['tag']}", starts_on=date(2027, 3, 1), ends_on=date(2027, 6, 30), load_limit=4, **made)
    s.add(term)
    await s.flush()
    section = Section(course_id=uuid.UUID(ids["course_a"]), term_id=term.id, code="A", host_kind=HostKind.base, host_id=None,
                      teacher_name="林老师", place="泉州五中 科学楼 301", capacity=30, taken=0, **made)
    s.add(section)
    await s.flush()
    ids["section_a"] = str(section.id)
    # On the record as the catalogue would have put them there.
    await _courses_chain.append_many(s, [
        *(Change("course.created", ids["staff"], Course.__table__, uuid.UUID(ids[n])) for n in ("course_a", "course_b")),
        Change("term.created", ids["staff"], Term.__table__, term.id), Change("section.created", ids["staff"], Section.__table__, section.id),
    ])
    other = Principal(id=ids["other_student"], kind="user", roles=frozenset({"student"}))
    evidence = dict(evidence_kind="competition_award", evidence="2026 全国中学生数学奥林匹克竞赛（福建赛区）一等奖",
                    links=["https://example.org/awards/2026"])
    course_a = uuid.UUID(ids["course_a"])
    for name, who, student, kind, section_id in (
        ("exemption_student", _as(w, "student"), None, "course", None),
        ("exemption_child", _as(w, "guardian"), uuid.UUID(ids["child"]), "exam", section.id),
        ("exemption_other", other, None, "course", None),
    ):
        found = await applications.apply_exemption(s, who, ExemptionIn(student_id=student, course_id=course_a, kind=kind,
                                                                       section_id=section_id, **evidence))
        ids[name] = str(found.id)
    student = await applications.apply_grade_skip(s, _as(w, "student"), GradeSkipIn(to_grade=10, **evidence))
    await applications.decide_grade_skip(s, _as(w, "coordinator"), student.id, Level.coordinator, Outcome.approved,
                                         "Ready for grade 10 mathematics.")
    child = await applications.apply_grade_skip(s, _as(w, "guardian"), GradeSkipIn(student_id=uuid.UUID(ids["child"]), to_grade=6, **evidence))
    coordinator_b = uuid.uuid4()
    await apply(s, directory.tables, [PersonRecord(version=10**9, person_id=coordinator_b, roles=["coordinator"], display_name="黄老师",
                                                   school_id=uuid.UUID(ids["school_b"]))])
    skip = await applications.apply_grade_skip(s, other, GradeSkipIn(to_grade=11, **evidence))
    for who, level in ((Principal(id=str(coordinator_b), kind="user", roles=frozenset({"coordinator"})), Level.coordinator),
                       (_as(w, "staff"), Level.staff)):
        await applications.decide_grade_skip(s, who, skip.id, level, Outcome.approved, "The evidence holds.")
    ids.update(grade_skip_student=str(student.id), grade_skip_child=str(child.id), grade_skip_other=str(skip.id),
               coordinator_b=str(coordinator_b))
    await s.flush()


async def _courses_registration(w: World) -> None:
    """Registration (services/courses/registration/): `reg_term` with its open window `reg_window`
    and `reg_term_free` without one; `reg_course`; `reg_section` (taught by the mentor) where the
    student, the child and the other student are confirmed (`reg_student`, `reg_child`,
    `reg_other_student`); `reg_section_full` (no seats) with the other student waitlisted
    (`reg_other_waitlisted`); `reg_section_offer` whose one seat is offered to the student
    (`reg_student_offered`, `offer_student`); `reg_section_open` (free seats, nobody yet); a hold on
    the other student (`reg_hold`). The three students are admitted by the courses consumer."""
    from services.courses.registration import service as registration
    from tests.courses.support import new_course, new_section, new_term, window_in

    s, ids = w.tx.session, w.ids
    for name, school in (("student", "school_a"), ("child", "school_a"), ("other_student", "school_b")):
        await registration.on_admitted(s, admitted_envelope(ids[name], ids[school], "math"))
    now = clock.now()
    term, free_term, course = await new_term(s), await new_term(s), await new_course(s)
    window = await registration.create_window(s, _as(w, "staff"), window_in(term.id, opens=now - timedelta(days=1),
                                                                            closes=now + timedelta(days=30)))
    start = now + timedelta(days=40)
    section = await new_section(s, term, course, starts=start, teacher_id=uuid.UUID(ids["mentor"]))
    full = await new_section(s, term, course, starts=start + timedelta(days=1), capacity=0)
    offered = await new_section(s, term, course, starts=start + timedelta(days=2), capacity=0)
    open_section = await new_section(s, term, course, starts=start + timedelta(days=3))
    ids.update(reg_term=str(term.id), reg_term_free=str(free_term.id), reg_course=str(course.id), reg_window=str(window.id),
               reg_section=str(section.id), reg_section_full=str(full.id), reg_section_offer=str(offered.id), reg_section_open=str(open_section.id))
    for name in ("student", "child", "other_student"):
        row, _ = await registration.register(s, _as(w, "staff"), section.id, uuid.UUID(ids[name]))
        ids[f"reg_{name}"] = str(row.id)
    row, _ = await registration.register(s, _as(w, "staff"), full.id, uuid.UUID(ids["other_student"]))
    ids["reg_other_waitlisted"] = str(row.id)
    row, _ = await registration.register(s, _as(w, "student"), offered.id, None)
    await registration.set_capacity(s, _as(w, "staff"), offered.id, 1)
    ids["reg_student_offered"] = str(row.id)
    import sqlalchemy as sa

    from services.courses.registration.models import Offer

    ids["offer_student"] = str((await s.execute(sa.select(Offer.id).where(Offer.registration_id == row.id))).scalar_one())
    hold = await registration.place_hold(s, _as(w, "staff"), uuid.UUID(ids["other_student"]), "Fees for the last term are unpaid.")
    ids["reg_hold"] = str(hold.id)


async def _courses_results(w: World) -> None:
    """Attendance and results (services/courses/results/): `res_section` (taught by the mentor, its
    first meeting `res_meeting` a week ago, the next one `res_meeting_next` now) with the student,
    the child and the other student confirmed (`res_reg_student`, `res_reg_child`, `res_reg_other`); their attendance at res_meeting (`att_student`,
    `att_child`, `att_other`) and their final results (`result_student` a pass that completed the
    course, `result_child` a fail, `result_other` a graded pass)."""
    import sqlalchemy as sa

    from services.courses.db import chain as _courses_chain
    from services.courses.models import SectionMeeting
    from services.courses.registration import service as registration
    from services.courses.registration.models import Registration, RegistrationStatus
    from services.courses.results import service as results
    from services.courses.results.schemas import AttendanceIn, ResultIn
    from tests.courses.support import new_course, new_section, new_term, window_in

    s, ids, staff = w.tx.session, w.ids, _as(w, "staff")
    now = clock.now()
    term, course = await new_term(s), await new_course(s)
    await registration.create_window(s, staff, window_in(term.id, opens=now - timedelta(days=30), closes=now + timedelta(days=30)))
    section = await new_section(s, term, course, starts=now - timedelta(weeks=1), teacher_id=uuid.UUID(ids["mentor"]))
    first, second = (await s.execute(sa.select(SectionMeeting.id).where(SectionMeeting.section_id == section.id)
                                     .order_by(SectionMeeting.starts_at))).scalars()
    ids.update(res_section=str(section.id), res_meeting=str(first), res_meeting_next=str(second))
    names = ("student", "child", "other_student")
    for name in names[:2]:
        row, _ = await registration.register(s, staff, section.id, uuid.UUID(ids[name]))
        ids[f"res_reg_{name}"] = str(row.id)
    # The other student is on hold by now (`reg_hold`): seated as registration would have seated them before it.
    seat = Registration(section_id=section.id, term_id=term.id, student_id=uuid.UUID(ids["other_student"]), status=RegistrationStatus.confirmed,
                        requested_by=ids["staff"], requested_at=now, confirmed_at=now)
    s.add(seat)
    await registration.take_seat(s, section.id)
    await s.flush()
    await _courses_chain.append(s, kind="registration.confirmed", table=Registration.__table__, row_id=seat.id, actor=ids["staff"])
    ids["res_reg_other"] = str(seat.id)
    rows = await results.record_attendance(s, staff, section.id, first, AttendanceIn.model_validate({"students": [
        {"student_id": ids[name], "status": status} for name, status in zip(names, ("present", "late", "absent"))]}))
    for key, row in zip(("att_student", "att_child", "att_other"), rows):
        ids[key] = str(row.id)
    for key, name, body in (("result_student", "student", {"outcome": "pass"}), ("result_child", "child", {"grade": 40}),
                            ("result_other", "other_student", {"grade": 75})):
        ids[key] = str((await results.record_result(s, staff, section.id, uuid.UUID(ids[name]), ResultIn.model_validate(body))).id)


async def _tracking(w: World) -> None:
    """Tracking (services/tracking/): the student (grade 9), the child (grade 5) in school A and the
    other student (grade 9, physics) in school B admitted in math through the enrolment and
    timeline consumers (`tl_student_admitted`, ...: the events; `change_student_admitted`, ...: the
    enrolment changes); the mentor assigned to the student (lab, `mentorship_student_lab`,
    `tl_student_mentor`), so the mentor reads the student's tracking rows."""
    import sqlalchemy as sa

    from services.tracking.enrolment import service as enrolment
    from services.tracking.enrolment.models import EnrolmentChange
    from services.tracking.timeline import service as timeline

    s, ids = w.tx.session, w.ids
    for name, school, discipline, grade in (("student", "school_a", "math", 9), ("child", "school_a", "math", 5),
                                            ("other_student", "school_b", "physics", 9)):
        event = admitted_envelope(ids[name], ids[school], discipline, grade=grade)
        await enrolment.on_admitted(s, event)
        await timeline.on_event(s, event)
        ids[f"tl_{name}_admitted"] = str(event.event_id)
        ids[f"change_{name}_admitted"] = str((await s.execute(sa.select(EnrolmentChange.id).where(
            EnrolmentChange.event_id == event.event_id))).scalar_one())
    assigned = mentor_assigned_envelope(ids["student"], ids["mentor"], ids["mentorship_student_lab"])
    await timeline.on_mentor_assigned(s, assigned)
    await timeline.on_event(s, assigned)
    ids["tl_student_mentor"] = str(assigned.event_id)
    await s.flush()


def mentor_assigned_envelope(student_id: str, mentor_id: str, mentorship_id: str | None = None, kind: str = "lab"):
    """A `mentoring.mentor.assigned` delivery as the event worker hands it to a handler."""
    from datetime import UTC, datetime

    from shared.events.contracts.mentoring import MentorAssigned
    from shared.events.worker import EventEnvelope

    now = datetime.now(UTC)
    payload = MentorAssigned(mentorship_id=uuid.UUID(mentorship_id) if mentorship_id else uuid.uuid4(), student_id=uuid.UUID(student_id),
                             mentor_id=uuid.UUID(mentor_id), kind=kind, discipline="math" if kind == "lab" else None, round_id=uuid.uuid4(),
                             run_id=uuid.uuid4(), started_at=now)
    return EventEnvelope(event_id=uuid.uuid4(), type="mentoring.mentor.assigned", version=1, source="mentoring", subject=student_id,
                         payload=payload, occurred_at=now, traceparent=None, attempt=1, delivery_id=1, consumer="tracking.mentors")


def admitted_envelope(student_id: str, school_id: str, discipline: str, *, candidate_id: uuid.UUID | None = None, grade: int = 8,
                      cohort_year: int = 2027, rank: int = 1):
    """A `selection.candidate.admitted` delivery as the event worker hands it to a handler."""
    from datetime import UTC, datetime

    from shared.events.contracts.selection import CandidateAdmitted
    from shared.events.worker import EventEnvelope

    now = datetime.now(UTC)
    payload = CandidateAdmitted(
        candidate_id=candidate_id or uuid.uuid4(), campaign_id=uuid.uuid4(), student_id=uuid.UUID(student_id), discipline=discipline,
        cohort_year=cohort_year, school_id=uuid.UUID(school_id), grade=grade, stage="middle", rank=rank, decided_at=now,
    )
    return EventEnvelope(event_id=uuid.uuid4(), type="selection.candidate.admitted", version=1, source="selection", subject=student_id,
                         payload=payload, occurred_at=now, traceparent=None, attempt=1, delivery_id=1, consumer="mentoring.pools")

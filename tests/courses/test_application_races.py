"""Applications under concurrency, with real commits over real HTTP, each request its own connection:
a student's application sent many times at once is filed once; staff deciding one exemption twice
at once decide it once, and the course is completed once.

Not in test_applications.py: the matrix world there holds its transaction (and the record chain's
lock, which every append takes) open for the whole module, so nothing another connection appends
to the courses chain could commit while it lives.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import func, select

from services.courses.app import create_app
from services.courses.applications.models import Exemption, GradeSkip
from services.courses.db import chain, directory
from services.courses.models import Completion, Course, CourseType
from services.courses.settings import CoursesSettings
from services.gateway.app import create_app as gateway_app
from shared import clock
from shared.db import sessionmaker
from shared.directory.store import apply
from shared.disciplines import Discipline
from shared.events.contracts.identity import PersonRecord
from tests.identity.committed import fresh_connection
from tests.identity.tokens import mint
from tests.servers import bound_socket, serve
from tests.tokens.support import gateway_settings

TAPS = 6
EVIDENCE = {"evidence_kind": "prior_result", "evidence": "校内期末考试 98 分", "links": []}


async def _count(database_url: str, model, **where) -> int:
    async with fresh_connection(database_url) as conn:
        stmt = select(func.count()).select_from(model).where(*(getattr(model, k) == v for k, v in where.items()))
        return (await conn.execute(stmt)).scalar_one()


async def test_applications_sent_at_once_are_filed_once_and_a_double_decision_decides_once(database_url, engine):
    student = uuid.uuid4()
    async with sessionmaker(engine)() as s, s.begin():
        await apply(s, directory.tables, [PersonRecord(version=1, person_id=student, roles=["student"], display_name="学生",
                                                       school_id=uuid.uuid4(), grade=7)])
        course = Course(code=f"R-{uuid.uuid4().hex[:10]}", title="化学竞赛基础", type=CourseType.basic, discipline=Discipline.chemistry,
                        level=1, min_grade=6, max_grade=9, prerequisites=[], hours=20, description="元素与反应。", created_by="staff",
                        updated_at=clock.now())
        s.add(course)
        await s.flush()
        # On the record, as the catalogue puts a course there (the record of the whole database is verified by other tests).
        await chain.append(s, kind="course.created", table=Course.__table__, row_id=course.id, actor="staff")

    gateway_sock, gateway_url = bound_socket()
    gateway = gateway_app(gateway_settings(database_url))
    service = create_app(CoursesSettings(database_url=database_url, env="test", events_enabled=False, gateway_url=gateway_url,
                                         directory_bootstrap=False, database_pool_size=TAPS + 2))
    async with serve(gateway, gateway_sock), serve(service) as url:
        mine = {"Authorization": f"Bearer {await mint(gateway, subject=str(student), roles=['student'])}"}
        staff = {"Authorization": f"Bearer {await mint(gateway, subject=str(uuid.uuid4()), roles=['staff'])}"}

        async def post(path: str, body: dict, headers: dict) -> httpx.Response:
            async with httpx.AsyncClient(base_url=url, timeout=60) as http:  # a connection of its own
                return await http.post(path, json=body, headers=headers)

        exemptions = await asyncio.gather(*(post("/exemptions", {"course_id": str(course.id), "kind": "course", **EVIDENCE}, mine)
                                            for _ in range(TAPS)))
        skips = await asyncio.gather(*(post("/grade-skips", {"to_grade": 8, **EVIDENCE}, mine) for _ in range(TAPS)))
        [filed] = [a.json()["id"] for a in exemptions if a.status_code == 201]
        decision = {"outcome": "approved", "reason": "The school result covers the course."}
        decided = await asyncio.gather(*(post(f"/exemptions/{filed}/decision", decision, staff) for _ in range(2)))

    for answers in (exemptions, skips):
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [201] + [409] * (TAPS - 1), [a.text for a in answers]
        assert {a.json()["code"] for a in answers if a.status_code == 409} == {"courses_application_open"}
    assert sorted(a.status_code for a in decided) == [200, 409], [a.text for a in decided]
    assert await _count(database_url, Exemption, student_id=student) == 1
    assert await _count(database_url, GradeSkip, student_id=student) == 1
    assert await _count(database_url, Completion, student_id=student) == 1
    async with sessionmaker(engine)() as s:
        assert [e.kind for e in await chain.entries(s, table=Exemption.__table__, row_id=uuid.UUID(filed))] == [
            "exemption.applied_course", "exemption.approved"]

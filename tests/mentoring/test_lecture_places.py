"""A lecture's places under concurrency, with real commits: more students than places register at
once, over real HTTP, each request its own connection and transaction; exactly the capacity succeed.

Not in test_lectures.py: the matrix world there holds its transaction (and the record chain's
lock, which every append takes) open for the whole module, so nothing another connection
appends to mentoring's chain could commit while it lives.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from services.mentoring.app import create_app
from services.mentoring.db import chain, directory
from services.mentoring.lectures import service as lectures
from services.mentoring.lectures.models import HOLDING, LectureRegistration
from services.mentoring.lectures.schemas import LectureIn
from services.mentoring.mentors import service as mentors
from services.mentoring.settings import MentoringSettings
from services.gateway.app import create_app as gateway_app
from shared import clock
from shared.db import sessionmaker
from shared.directory.store import apply
from shared.events.contracts.identity import PersonRecord
from shared.tokens import Principal
from tests.identity.committed import fresh_connection
from tests.identity.tokens import mint
from tests.matrix.world import admitted_envelope
from tests.servers import bound_socket, serve
from tests.tokens.support import gateway_settings

CAPACITY = 3
STUDENTS = 9


async def test_more_students_than_places_at_once_and_exactly_the_capacity_get_one(database_url, engine):
    school = str(uuid.uuid4())
    students = [uuid.uuid4() for _ in range(STUDENTS)]
    staff = Principal(id=str(uuid.uuid4()), kind="user", roles=frozenset({"staff"}))
    async with sessionmaker(engine)() as s, s.begin():
        await apply(s, directory.tables, [PersonRecord(version=1, person_id=p, roles=["student"], display_name="学生",
                                                       school_id=uuid.UUID(school), grade=8) for p in students])
        for p in students:
            # A cohort of its own, so no other test's matching round finds these needs.
            await mentors.on_admitted(s, admitted_envelope(str(p), school, "math", cohort_year=2071))
        starts = clock.now() + timedelta(days=3)
        lecture = await lectures.create(s, staff, LectureIn(
            title="并发的讲座", abstract="名额在并发下也不会超卖。", speaker_name="林工程师", organisation="泉州软件园",
            disciplines=["computer_science"], starts_at=starts, ends_at=starts + timedelta(hours=1), place="泉州五中 报告厅", capacity=CAPACITY))

    gateway_sock, gateway_url = bound_socket()
    gateway = gateway_app(gateway_settings(database_url))
    service = create_app(MentoringSettings(database_url=database_url, env="test", events_enabled=False, gateway_url=gateway_url,
                                           directory_bootstrap=False, database_pool_size=STUDENTS + 2))
    async with serve(gateway, gateway_sock), serve(service) as url:
        tokens = [await mint(gateway, subject=str(p), roles=["student"]) for p in students]
        # The first student sends their registration twice at once (a double tap).
        callers = [*zip(students, tokens), (students[0], tokens[0])]

        async def register(token: str) -> httpx.Response:
            async with httpx.AsyncClient(base_url=url, timeout=60) as http:  # a connection of its own
                return await http.post(f"/lectures/{lecture.id}/registrations", json={}, headers={"Authorization": f"Bearer {token}"})

        answers = await asyncio.gather(*(register(t) for _, t in callers))
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            shown = (await http.get(f"/lectures/{lecture.id}", headers={"Authorization": f"Bearer {tokens[1]}"})).json()

    statuses = [a.status_code for a in answers]
    assert statuses.count(201) == CAPACITY, [a.text for a in answers]
    refused = [a for a in answers if a.status_code == 409]
    assert all(a.json()["code"] == "mentoring_lecture_full" for a in refused), [a.text for a in refused]
    assert set(statuses) <= {200, 201, 409}, [a.text for a in answers]
    # A repeat answers the registration that holds the place, never a second one.
    first = [a.json()["id"] for (p, _), a in zip(callers, answers) if p == students[0] and a.status_code in (200, 201)]
    assert len(set(first)) <= 1 and (200 in statuses) == (len(first) == 2)
    assert (shown["taken"], shown["places_left"]) == (CAPACITY, 0)

    async with fresh_connection(database_url) as conn:
        held = (await conn.execute(select(LectureRegistration.student_id).where(
            LectureRegistration.lecture_id == lecture.id, LectureRegistration.status.in_(HOLDING)))).scalars().all()
        every = (await conn.execute(select(func.count()).select_from(LectureRegistration).where(
            LectureRegistration.lecture_id == lecture.id))).scalar_one()
    winners = {uuid.UUID(a.json()["student_id"]) for a in answers if a.status_code == 201}
    assert sorted(held) == sorted(winners) and every == CAPACITY
    async with sessionmaker(engine)() as s:
        recorded = [len(await chain.entries(s, table=LectureRegistration.__table__, row_id=r)) for r in
                    (await s.execute(select(LectureRegistration.id).where(LectureRegistration.lecture_id == lecture.id))).scalars()]
    assert recorded == [1] * CAPACITY

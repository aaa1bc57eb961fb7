"""The gateway keeps answering while it does heavy work: /healthz is answered during a 5,000-row
import and a burst of password changes, not only after them.

Each test serves the real gateway with uvicorn and polls /healthz from the same event loop the
gateway runs on, so work that held the loop would leave no poll answered while it ran. How quick
those answers are is a figure of `python3 tasks.py bench responsiveness` (tests/perf/responsiveness.py),
which uses the same work and polling.
"""

from __future__ import annotations

import asyncio
import gc
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta

import httpx
from sqlalchemy import func, select

from services.gateway.identity.models import GuardianLink, School, SchoolLevel, UserAccount
from tests.identity.committed import Served, forget, fresh_connection, served_gateway
from tests.identity.factories import id_number, unique
from tests.identity.test_imports import upload, xlsx
from tests.identity.tokens import bearer

ROWS = 5000
POLL_EVERY = 0.02
PASSWORDS = 8


def school_list(school: str, rows: int) -> bytes:
    """A workbook as a school sends it: one student and guardian a row, every ID number distinct."""
    header = ["姓名", "身份证号", "学校", "年级", "监护人姓名", "监护人电话", "关系"]
    body = [
        [f"学生{i}", id_number(date(2011, 1, 1) + timedelta(days=i // 1000), seq=i % 1000), school, "初一", f"家长{i}", f"138{i:08d}", "母亲"]
        for i in range(rows)
    ]
    return xlsx([header, *body])


@asynccontextmanager
async def polled_gateway(database_url: str) -> AsyncIterator[tuple[Served, httpx.AsyncClient, dict[str, str]]]:
    """The gateway served with real commits, a client of its own to poll it, and an admin's headers."""
    # The rate limit would answer the polls itself; it is not what these tests are about.
    async with served_gateway(database_url, rate_limit_enabled=False) as gw, httpx.AsyncClient(
        base_url=gw.url, timeout=30
    ) as probe:
        assert (await probe.get("/healthz")).status_code == 200
        yield gw, probe, await bearer(gw.app, roles=["admin"])


async def polled_while(probe: httpx.AsyncClient, work) -> tuple[object, list[float]]:
    """Run `work()` while polling /healthz; its result and the latency of each poll sent after
    it started and answered before it ended."""
    # This process also holds pytest and every test module: a full collection of that heap
    # (about 0.1 s here) is no work of the gateway's. Frozen, the collector sees only what is
    # allocated from now on: the work's and the polls' own garbage.
    gc.collect()
    gc.freeze()
    try:

        async def timed():
            return await work(), time.perf_counter()

        started = time.perf_counter()
        task = asyncio.create_task(timed())
        polls: list[tuple[float, float]] = []  # (sent, answered)
        while not task.done():
            sent = time.perf_counter()
            assert (await probe.get("/healthz")).status_code == 200
            polls.append((sent, time.perf_counter()))
            await asyncio.sleep(POLL_EVERY)
        result, finished = await task
    finally:
        gc.unfreeze()
    return result, [answered - sent for sent, answered in polls if started <= sent and answered <= finished]


def assert_answered_meanwhile(latencies: list[float], what: str, *, polls: int) -> None:
    """At least `polls` polls were sent and answered while the work ran."""
    assert len(latencies) >= polls, f"{what} ended before the gateway answered {polls} polls meanwhile ({len(latencies)})"
    print(f"{what}: {len(latencies)} polls answered meanwhile, worst {max(latencies) * 1000:.1f} ms")


async def new_school_list(engine, rows: int) -> tuple[uuid.UUID, bytes]:
    """A new school and its list of `rows` students (committed school; the import not yet sent)."""
    school_id = uuid.uuid4()
    name = unique("泉州第五中学")
    async with engine.begin() as conn:
        await conn.execute(School.__table__.insert().values(id=school_id, name=name, district="鲤城区", level=SchoolLevel.middle))
    return school_id, school_list(name, rows)


async def mentors_without_passwords(engine, n: int) -> list[uuid.UUID]:
    people = [uuid.uuid4() for _ in range(n)]
    async with engine.begin() as conn:
        await conn.execute(
            UserAccount.__table__.insert(),
            [{"id": p, "username": unique("mentor"), "display_name": "导师", "roles": ["mentor"]} for p in people],
        )
    return people


def change_passwords(gw: Served, admin: dict[str, str], people: list[uuid.UUID]):
    async def work():
        return await asyncio.gather(*(
            gw.http.patch(f"/identity/users/{p}", json={"password": f"a new long password {i}"}, headers={**admin, "If-Match": "*"})
            for i, p in enumerate(people)
        ))
    return work


async def test_healthz_is_answered_while_a_5000_row_import_runs(database_url, engine):
    school_id = None
    try:
        async with polled_gateway(database_url) as (gw, probe, admin):
            school_id, data = await new_school_list(engine, ROWS)
            r, latencies = await polled_while(
                probe, lambda: gw.http.post("/identity/imports/students", files=upload(data, "students.xlsx"), headers=admin)
            )
        assert r.status_code == 200, r.text
        assert r.json()["imported"] == ROWS
        assert_answered_meanwhile(latencies, "the import", polls=10)

        # And it was all committed: a new connection finds every student, linked to a guardian.
        async with fresh_connection(database_url) as conn:
            students = select(UserAccount.id).where(UserAccount.school_id == school_id).scalar_subquery()
            stored = await conn.scalar(select(func.count()).where(UserAccount.id.in_(students)))
            linked = await conn.scalar(select(func.count()).select_from(GuardianLink).where(GuardianLink.student_id.in_(students)))
        assert (stored, linked) == (ROWS, ROWS)
    finally:
        if school_id is not None:
            await forget(engine, schools=[school_id])


async def test_healthz_is_answered_during_a_burst_of_password_changes(database_url, engine):
    """Argon2 takes tens of milliseconds of CPU per password by design; several at once must
    not hold the loop in turn."""
    people = await mentors_without_passwords(engine, PASSWORDS)
    try:
        async with polled_gateway(database_url) as (gw, probe, admin):
            answers, latencies = await polled_while(probe, change_passwords(gw, admin, people))
        assert {r.status_code for r in answers} == {200}
        assert_answered_meanwhile(latencies, "the password changes", polls=3)
        async with fresh_connection(database_url) as conn:
            hashes = (await conn.execute(select(UserAccount.password_hash).where(UserAccount.id.in_(people)))).scalars().all()
        assert len(hashes) == len(people) and all(h.startswith("$argon2id$") for h in hashes)
    finally:
        await forget(engine, users=people)

"""The import story with real commits: a gateway whose sessions commit, read back from another connection.

What a school's file stores (students, guardians matched or created, links, encrypted ID
numbers), that a rejected file stores nothing, and that two imports of one student at once
store them once.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.identity import imports
from services.gateway.identity.models import GuardianLink, School, SchoolLevel, UserAccount
from services.gateway.identity.schemas import ImportMode
from services.gateway.identity.sealing import aad, seal
from shared.crypto import development_cipher
from shared.db import sessionmaker
from shared.problems import ProblemError
from shared.tokens import Principal
from shared.workers import WorkerPool
from tests.identity.committed import forget, fresh_connection, served_gateway
from tests.identity.factories import bad_checksum, id_number, unique
from tests.identity.test_imports import HEADER, URL, csv_file, upload
from tests.identity.tokens import bearer


async def _school(engine) -> tuple[uuid.UUID, str]:
    school_id, name = uuid.uuid4(), unique("泉州第五中学")
    async with engine.begin() as conn:
        await conn.execute(School.__table__.insert().values(id=school_id, name=name, district="鲤城区", level=SchoolLevel.middle))
    return school_id, name


async def _stored(database_url: str, school_id: uuid.UUID) -> list[UserAccount]:
    async with fresh_connection(database_url) as conn:
        rows = await conn.execute(select(UserAccount).where(UserAccount.school_id == school_id))
        return list(rows.all())


async def test_an_imported_file_is_committed_whole_and_a_rejected_one_stores_nothing(database_url, engine):
    school_id, name = await _school(engine)
    # A guardian already registered with this phone and name is linked, not created again.
    known = seal(development_cipher(), phone="13900000001")
    async with engine.begin() as conn:
        await conn.execute(
            UserAccount.__table__.insert().values(
                id=known.id, username=unique("gdn"), display_name="张父", roles=["guardian"],
                phone_cipher=known.phone_cipher, phone_index=known.phone_index,
            )
        )
    numbers = [id_number(date(2012, 3, 1)), id_number(date(2012, 4, 2)), id_number(date(2011, 5, 3))]
    good = [
        f"张三,{numbers[0]},{name},7,张父,13900000001,父亲",
        f"张小四,{numbers[1]},{name},7,张父,13900000001,父亲",
        f"李五,{numbers[2]},{name},8,李母,13900000002,母亲",
    ]
    bad = f"王六,{bad_checksum(id_number(date(2012, 1, 1)))},{name},7,王父,13900000003,父亲"
    try:
        async with served_gateway(database_url) as gw:
            admin = await bearer(gw.app, roles=["admin"])

            rejected = await gw.http.post(URL, files=upload(csv_file(HEADER, *good, bad)), headers=admin)
            assert rejected.status_code == 422 and rejected.json()["code"] == "import_rejected"
            assert await _stored(database_url, school_id) == []

            r = await gw.http.post(URL, files=upload(csv_file(HEADER, *good)), headers=admin)
            assert r.status_code == 200, r.text
            report = r.json()
            assert (report["imported"], report["guardians_created"], report["guardians_linked_existing"]) == (3, 1, 1)

        students = {s.display_name: s for s in await _stored(database_url, school_id)}
        assert set(students) == {"张三", "张小四", "李五"}
        cipher = development_cipher()
        for student, number in zip((students["张三"], students["张小四"], students["李五"]), numbers, strict=True):
            assert cipher.decrypt_text(student.id_number_cipher, aad=aad(student.id, "id_number")) == number
            assert student.id_number_index == cipher.blind_index(number)
        async with fresh_connection(database_url) as conn:
            links = (await conn.execute(select(GuardianLink).where(GuardianLink.student_id.in_([s.id for s in students.values()])))).all()
            created = (await conn.execute(select(UserAccount).where(UserAccount.phone_index == cipher.blind_index("13900000002", purpose="phone")))).all()
        guardian_of = {link.student_id: (link.guardian_id, link.relation) for link in links}
        assert guardian_of[students["张三"].id] == guardian_of[students["张小四"].id] == (known.id, "father")
        assert [(g.display_name, g.roles) for g in created] == [("李母", ["guardian"])]
        assert guardian_of[students["李五"].id] == (created[0].id, "mother")
        assert cipher.decrypt_text(created[0].phone_cipher, aad=aad(created[0].id, "phone")) == "13900000002"
    finally:
        await forget(engine, schools=[school_id], users=[known.id])


async def test_two_imports_of_the_same_students_at_once_store_them_once(database_url, engine):
    """Both imports check the file before either commits; the second then loses on the unique ID
    number as a 409, and stores nothing of its file."""
    school_id, name = await _school(engine)
    lines = [HEADER] + [f"学生{i},{id_number(date(2012, 1, 1) + timedelta(days=i))},{name},7,家长{i},1370000{i:04d},母亲" for i in range(50)]
    admin = Principal(id=str(uuid.uuid4()), kind="user", roles=frozenset({"admin"}))

    pool = WorkerPool()

    async def run(session: AsyncSession) -> bytes:
        return await imports.import_students(
            session=session, principal=admin, cipher=development_cipher(), pool=pool, data=csv_file(*lines), filename="a.csv",
            mode=ImportMode.all_or_nothing, default_school_id=None, max_rows=100, lang="en",
        )

    try:
        async with sessionmaker(engine)() as first, sessionmaker(engine)() as second:
            await run(first)  # written, not yet committed
            racing = asyncio.create_task(run(second))
            # The second import has checked the file and now waits on the first's unique index entries.
            async with asyncio.timeout(30):
                while not await _waiting_on_a_lock(engine):
                    assert not racing.done(), racing.result()
                    await asyncio.sleep(0.05)
            await first.commit()
            with pytest.raises(ProblemError) as lost:
                await racing
            assert (lost.value.code, lost.value.status) == ("id_number_taken", 409)
            await second.rollback()
        async with fresh_connection(database_url) as conn:
            stored = await conn.scalar(select(func.count()).select_from(UserAccount).where(UserAccount.school_id == school_id))
            students = select(UserAccount.id).where(UserAccount.school_id == school_id).scalar_subquery()
            links = await conn.scalar(select(func.count()).select_from(GuardianLink).where(GuardianLink.student_id.in_(students)))
        assert (stored, links) == (50, 50)
    finally:
        await pool.aclose()
        await forget(engine, schools=[school_id])


async def _waiting_on_a_lock(engine) -> bool:
    async with engine.connect() as conn:
        return bool(
            await conn.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
            )
        )

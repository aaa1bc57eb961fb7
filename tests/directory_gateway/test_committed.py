"""With real commits: a change and its event commit together or not at all, and of two concurrent
changes to one record the one that commits later carries the larger version."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import select

from services.gateway.identity import service as identity
from services.gateway.identity.models import School, SchoolLevel, UserAccount
from services.gateway.identity.schemas import SchoolIn, SchoolPatch
from shared.db import sessionmaker
from tests.directory_gateway.support import published, types
from tests.identity.committed import forget, fresh_connection
from tests.identity.factories import unique
from tests.identity.test_cli import _sprout


async def _new_school(engine) -> School:
    async with sessionmaker(engine)() as session, session.begin():
        return await identity.create_school(
            session=session, data=SchoolIn(name=unique("泉州一中"), district="鲤城区", level=SchoolLevel.middle)
        )


async def test_a_change_commits_with_its_event_and_a_rolled_back_one_leaves_neither(database_url, engine):
    school = await _new_school(engine)
    try:
        async with sessionmaker(engine)() as session:
            async with session.begin():
                await identity.update_school(session=session, school_id=school.id, patch=SchoolPatch(district="丰泽区"))
                assert types(await published(session, school.id)) == ["identity.school.registered", "identity.school.updated"]
                await session.rollback()
        async with fresh_connection(database_url) as conn:
            events = await published(conn, school.id)
            district = (await conn.execute(School.__table__.select().where(School.id == school.id))).one().district
        assert types(events) == ["identity.school.registered"] and district == "鲤城区"
        assert events[0].payload["version"] == school.directory_version
    finally:
        await forget(engine, schools=[school.id])


async def test_of_two_concurrent_changes_to_a_record_the_later_commit_has_the_larger_version(database_url, engine):
    school = await _new_school(engine)
    factory = sessionmaker(engine)
    try:
        async with factory() as first, factory() as second:
            await first.begin()
            await identity.update_school(session=first, school_id=school.id, patch=SchoolPatch(district="丰泽区"))

            async def change_too() -> None:
                async with second.begin():
                    await identity.update_school(session=second, school_id=school.id, patch=SchoolPatch(district="洛江区"))

            # The second one's write waits for the first one's row lock...
            waiting = asyncio.create_task(change_too())
            done, _ = await asyncio.wait({waiting}, timeout=0.5)
            assert not done, "the second change did not wait for the first"
            await first.commit()
            await asyncio.wait_for(waiting, timeout=10)

        async with fresh_connection(database_url) as conn:
            events = await published(conn, school.id)
            row = (await conn.execute(School.__table__.select().where(School.id == school.id))).one()
        # ...so its version, taken after the write, is taken after the first one committed.
        assert [(e.type, e.payload["district"]) for e in events[1:]] == [
            ("identity.school.updated", "丰泽区"), ("identity.school.updated", "洛江区"),
        ]
        assert events[1].payload["version"] < events[2].payload["version"] == row.directory_version
        assert row.district == "洛江区"
    finally:
        await forget(engine, schools=[school.id])


async def test_sprout_user_create_publishes_the_person(database_url, engine):
    username = f"root-{uuid.uuid4().hex[:6]}"
    done = _sprout(database_url, "user", "create", "--username", username, "--role", "admin", "--no-password")
    assert done.returncode == 0, done.stderr
    async with fresh_connection(database_url) as conn:
        person = (await conn.execute(select(UserAccount.id).where(UserAccount.username == username))).scalar_one()
        events = await published(conn, person)
    try:
        assert types(events) == ["identity.person.registered"]
        assert {k: events[0].payload[k] for k in ("roles", "display_name", "disabled")} == {
            "roles": ["admin"], "display_name": username, "disabled": False,
        }
    finally:
        await forget(engine, users=[person])

"""The under-14 timer: due at the start of a child's 14th birthday (China time), it publishes the
person again with `under_14` false, once, and only if what was published is out of date."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, time

from sqlalchemy import text

from services.gateway.directory import publisher, records, timers
from services.gateway.identity import service as identity
from services.gateway.identity.schemas import UserIn, UserPatch
from shared import clock
from shared.clock import FrozenClock, use_clock
from shared.db import sessionmaker
from shared.events import Consumer, run_consumers
from shared.events.contracts.identity import PERSON_TURNS_14
from shared.settings import BaseServiceSettings
from tests.directory_gateway.support import due_times, published, subscribe, types
from tests.events.support import claims, wait_until
from tests.identity.committed import forget, fresh_connection
from tests.identity.factories import cipher, make_school, unique

CHINA = clock.CHINA


def china(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), CHINA)


async def _child(session, school, born: date):
    data = UserIn(username=unique("child"), display_name="小朋友", roles=["student"], school_id=school.id, grade=7, birth_date=born)
    return await identity.create_user(session=session, data=data, cipher=cipher())


def test_the_day_is_the_14th_birthday_and_a_29_february_child_turns_14_on_1_march():
    assert records.turns_14_at(date(2012, 6, 10)) == china(date(2026, 6, 10))
    assert records.turns_14_at(date(2012, 2, 29)) == china(date(2026, 3, 1))
    assert records.turns_14_at(date(2014, 2, 28)) == china(date(2028, 2, 28))
    # As age_on counts it: still 13 on 28 February, 14 on 1 March.
    assert records.under_14(date(2012, 2, 29), date(2026, 2, 28)) is True
    assert records.under_14(date(2012, 2, 29), date(2026, 3, 1)) is False
    assert records.under_14(None, date(2026, 3, 1)) is None


async def test_the_timer_publishes_the_child_again_on_the_day_they_turn_14_and_only_once(session):
    consumer = f"test-{uuid.uuid4().hex[:8]}"
    await subscribe(session, consumer, PERSON_TURNS_14)
    born = date(2012, 6, 10)
    with use_clock(FrozenClock(china(date(2026, 5, 1), 9))) as clock:
        school = await make_school(session)
        child = await _child(session, school, born)
        [registered, timer] = await published(session, child.id)
        assert (registered.type, registered.payload["under_14"]) == ("identity.person.registered", True)
        assert await due_times(session, consumer, child.id) == [china(date(2026, 6, 10))]

        # A minute before midnight, China time: still 13.
        clock.set(china(date(2026, 6, 9), 23, 59))
        assert await publisher.person_turned_14(session, child.id) is False
        assert await published(session, child.id, after=timer.id) == []

        clock.set(china(date(2026, 6, 10)))
        assert await publisher.person_turned_14(session, child.id) is True
        [updated] = await published(session, child.id, after=timer.id)
        assert updated.type == "identity.person.updated"
        assert {**registered.payload, "under_14": False, "version": updated.payload["version"]} == updated.payload
        assert updated.payload["version"] > registered.payload["version"]

        # Again (a redelivery, or a second timer for the same day): the record says 14 already.
        clock.advance(days=3)
        assert await publisher.person_turned_14(session, child.id) is False
        assert await published(session, child.id, after=updated.id) == []


async def test_a_timer_left_behind_by_a_changed_birth_date_does_nothing(session):
    with use_clock(FrozenClock(china(date(2026, 5, 1), 9))) as clock:
        school = await make_school(session)
        child = await _child(session, school, date(2012, 6, 10))
        # The school's first list had the date wrong: born in December.
        await identity.update_user(
            session=session, user_id=child.id, patch=UserPatch(birth_date=date(2012, 12, 10)), if_match="*", cipher=cipher()
        )
        timers_of = [e for e in await published(session, child.id) if e.type == PERSON_TURNS_14]
        assert len(timers_of) == 2
        base = max(e.id for e in await published(session, child.id))

        clock.set(china(date(2026, 6, 10)))  # the first timer: they are 13 still
        assert await publisher.person_turned_14(session, child.id) is False
        clock.set(china(date(2026, 12, 10)))  # the second
        assert await publisher.person_turned_14(session, child.id) is True
        assert types(await published(session, child.id, after=base)) == ["identity.person.updated"]


async def test_a_child_published_since_their_birthday_needs_nothing_more(session):
    with use_clock(FrozenClock(china(date(2026, 5, 1), 9))) as clock:
        school = await make_school(session)
        child = await _child(session, school, date(2012, 6, 10))
        # Their timer waits behind a busy consumer; meanwhile they move up a grade, which publishes them as 14.
        clock.set(china(date(2026, 6, 20)))
        await identity.update_user(session=session, user_id=child.id, patch=UserPatch(grade=8), if_match="*", cipher=cipher())
        [*_, updated] = await published(session, child.id)
        assert (updated.type, updated.payload["under_14"]) == ("identity.person.updated", False)
        assert await publisher.person_turned_14(session, child.id) is False
        assert (await published(session, child.id))[-1].id == updated.id


async def test_the_gateways_consumer_handles_its_timer_when_the_clock_reaches_it(database_url, engine):
    # The gateway's handler under a consumer name of this test's own (the real one is the gateway's).
    consumer = Consumer(f"test-{uuid.uuid4().hex[:8]}", {PERSON_TURNS_14: timers.on_turns_14})
    settings = BaseServiceSettings(
        database_url=database_url, env="test", events_poll_interval=120.0, events_backoff_base=0.05, events_backoff_max=0.2
    )
    frozen = FrozenClock(china(date(2026, 6, 9), 12))
    schools: list[uuid.UUID] = []
    try:
        with use_clock(frozen):
            async with run_consumers(engine, database_url, [consumer], settings, cleanup_every=None):
                async with sessionmaker(engine)() as session, session.begin():
                    school = await make_school(session)
                    schools.append(school.id)
                    child = await _child(session, school, date(2012, 6, 10))

                async def updates() -> list:
                    async with fresh_connection(database_url) as conn:
                        return [e for e in await published(conn, child.id) if e.type == "identity.person.updated"]

                before = claims(consumer.name)
                frozen.advance(hours=11, minutes=59)  # 23:59 on the 9th, China time
                # Moving the clock wakes the worker; a claim after the move finds nothing due.
                await wait_until(lambda: claims(consumer.name) > before, timeout=30, what="a claim after the move")
                await asyncio.sleep(0.2)
                assert await updates() == []

                frozen.advance(minutes=1)
                await wait_until(updates, timeout=30, what="identity.person.updated from the timer")
                [updated] = await updates()
                assert updated.payload["under_14"] is False
                await _settle(engine, consumer.name)
        assert len(await updates()) == 1
    finally:
        await forget(engine, schools=schools)


async def _settle(engine, consumer: str) -> None:
    """Until nothing due is pending for the consumer (what is due has been handled)."""

    async def idle() -> bool:
        async with engine.connect() as conn:
            owed = await conn.execute(
                text("SELECT count(*) FROM events.delivery WHERE consumer = :c AND status = 'pending' AND attempts > 0"),
                {"c": consumer},
            )
            return owed.scalar_one() == 0

    await wait_until(idle, timeout=30, what=f"{consumer} idle")


"""The directory read model on a real database: events applied in any order and any number of
times leave it the same; the questions and the row scoping answer from it."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

from sqlalchemy import literal, select
from sqlalchemy.dialects.postgresql import UUID

from services.courses.db import directory as courses_directory
from services.mentoring.db import directory as mentoring_directory
from services.selection.db import directory
from shared.db import sessionmaker
from shared.events import publish, run_consumers
from shared.events.contracts import identity as ev
from shared.events.worker import EventEnvelope
from shared.settings import BaseServiceSettings
from shared.tokens import Principal
from tests.events.support import wait_until


def envelope(event_type: str, record: ev.DirectoryRecord, n: int) -> EventEnvelope:
    return EventEnvelope(
        event_id=uuid.uuid4(), type=event_type, version=1, source="gateway", subject=str(ev.subject_of(record)),
        payload=record, occurred_at=datetime.now(UTC), traceparent=None, attempt=1, delivery_id=n,
        consumer=directory.consumer.name,
    )


class History:
    """A made-up stretch of the gateway's life: each change a new version, as its sequence gives them."""

    def __init__(self) -> None:
        self.version = 10_000
        self.events: list[tuple[str, ev.DirectoryRecord]] = []

    def add(self, event_type: str, cls: type[ev.DirectoryRecord], **fields) -> ev.DirectoryRecord:
        self.version += 1
        record = cls(version=self.version, **fields)
        self.events.append((event_type, record))
        return record


def story() -> tuple[History, dict[str, uuid.UUID]]:
    h, ids = History(), {k: uuid.uuid4() for k in ("school", "school2", "partner", "s1", "s2", "g1", "g2", "c1", "k1")}
    h.add(ev.SCHOOL_REGISTERED, ev.SchoolRecord, school_id=ids["school"], name="No. 1 Middle", district="East", level="middle")
    h.add(ev.SCHOOL_REGISTERED, ev.SchoolRecord, school_id=ids["school2"], name="No. 2 Middle", district="West", level="middle")
    h.add(ev.PARTNER_REGISTERED, ev.PartnerRecord, partner_id=ids["partner"], name="City University")
    person = dict(roles=["student"], school_id=ids["school"], grade=7, birth_year=2013, under_14=True)
    h.add(ev.PERSON_REGISTERED, ev.PersonRecord, person_id=ids["s1"], display_name="Li Hua", **person)
    h.add(ev.PERSON_REGISTERED, ev.PersonRecord, person_id=ids["s2"], display_name="Wang Fang", **person)
    for g in ("g1", "g2"):
        h.add(ev.PERSON_REGISTERED, ev.PersonRecord, person_id=ids[g], display_name=f"Guardian {g}", roles=["guardian"])
    h.add(ev.GUARDIAN_LINKED, ev.GuardianLinkRecord, guardian_id=ids["g1"], student_id=ids["s1"], relation="mother")
    h.add(ev.GUARDIAN_LINKED, ev.GuardianLinkRecord, guardian_id=ids["g2"], student_id=ids["s1"], relation="father")
    h.add(ev.PERSON_UPDATED, ev.PersonRecord, person_id=ids["s1"], display_name="Li Hua", **{**person, "grade": 8})
    h.add(ev.CONSENT_GIVEN, ev.ConsentRecord, consent_id=ids["c1"], student_id=ids["s1"], purpose="participation",
          guardian_id=ids["g1"], given_at=datetime(2026, 9, 1, tzinfo=UTC))
    h.add(ev.GUARDIAN_UNLINKED, ev.GuardianLinkRecord, guardian_id=ids["g2"], student_id=ids["s1"], linked=False)
    h.add(ev.PERSON_UPDATED, ev.PersonRecord, person_id=ids["s2"], display_name="Wang Fang",
          **{**person, "school_id": ids["school2"]})
    h.add(ev.SCHOOL_UPDATED, ev.SchoolRecord, school_id=ids["school"], name="No. 1 Middle School", district="East", level="middle")
    h.add(ev.PARTNER_UPDATED, ev.PartnerRecord, partner_id=ids["partner"], name="City University of Science")
    h.add(ev.CONSENT_ENDED, ev.ConsentRecord, consent_id=ids["c1"], student_id=ids["s1"], purpose="participation",
          guardian_id=ids["g1"], given_at=datetime(2026, 9, 1, tzinfo=UTC),
          ended_at=datetime(2026, 10, 1, tzinfo=UTC), end_reason="guardian_unlinked")
    h.add(ev.CONSENT_GIVEN, ev.ConsentRecord, consent_id=ids["k1"], student_id=ids["s1"], purpose="partner_sharing",
          partner_id=ids["partner"], guardian_id=ids["g1"], given_at=datetime(2026, 10, 2, tzinfo=UTC))
    h.add(ev.PERSON_UPDATED, ev.PersonRecord, person_id=ids["g2"], display_name="Guardian g2", roles=["guardian"], disabled=True)
    return h, ids


async def state(session, ids: dict[str, uuid.UUID]) -> dict[str, list[tuple]]:
    """Every read-model row about the story's records, without the time it was written."""
    wanted = list(ids.values())
    out = {}
    for table in directory.tables.records:
        key = next(iter(table.primary_key.columns))
        rows = (await session.execute(select(table).where(key.in_(wanted)).order_by(*table.primary_key.columns))).mappings()
        out[table.name] = [tuple(v for k, v in r.items() if k != "updated_at") for r in rows]
    return out


async def forget(session, ids) -> None:
    for table in directory.tables.records:
        key = next(iter(table.primary_key.columns))
        await session.execute(table.delete().where(key.in_(list(ids.values()))))


async def deliver(session, events) -> None:
    for n, (event_type, record) in enumerate(events):
        await directory.consumer.handlers[event_type](session, envelope(event_type, record, n))


async def test_redelivery_and_any_order_leave_the_read_model_as_in_order_delivery_does(engine):
    history, ids = story()
    async with sessionmaker(engine)() as session, session.begin():
        await deliver(session, history.events)
        expected = await state(session, ids)
    assert len(expected["directory_person"]) == 4 and len(expected["directory_guardian_link"]) == 2
    rng = random.Random(20261202)
    for _ in range(12):
        # Every event twice, in a shuffled order, as redelivery after crashes and replicas can give them.
        events = history.events * 2
        rng.shuffle(events)
        async with sessionmaker(engine)() as session, session.begin():
            await forget(session, ids)
            await deliver(session, events)
            assert await state(session, ids) == expected
    # And delivering the whole history once more over the final state changes nothing.
    async with sessionmaker(engine)() as session, session.begin():
        await deliver(session, history.events)
        assert await state(session, ids) == expected


async def test_the_final_state_is_the_last_version_of_each_record(engine):
    history, ids = story()
    async with sessionmaker(engine)() as session, session.begin():
        await deliver(session, list(reversed(history.events)))
        d = directory
        assert await d.grade_of(session, ids["s1"]) == 8
        assert await d.school_of(session, ids["s2"]) == ids["school2"]
        assert await d.is_guardian_of(session, ids["g1"], ids["s1"])
        assert not await d.is_guardian_of(session, ids["g2"], ids["s1"])  # unlinked after linking
        assert await d.children_of(session, ids["g1"]) == [ids["s1"]]
        assert await d.children_of(session, ids["g2"]) == []
        assert await d.is_disabled(session, ids["g2"]) and not await d.is_disabled(session, ids["g1"])
        assert await d.is_disabled(session, uuid.uuid4())  # unknown: treated as disabled
        assert await d.display_name(session, ids["s2"]) == "Wang Fang"
        school = (await session.execute(select(d.tables.school.c.name).where(d.tables.school.c.school_id == ids["school"]))).scalar()
        assert school == "No. 1 Middle School"
        # The participation consent ended with its guardian's link; the sharing one holds.
        assert not await d.consent_holds(session, ids["s1"], "participation")
        assert await d.consent_holds(session, ids["s1"], "partner_sharing", ids["partner"])
        assert not await d.consent_holds(session, ids["s1"], "partner_sharing", uuid.uuid4())


async def test_consent_rules_follow_the_age(engine):
    s_young, s_old, s_unknown, g = (uuid.uuid4() for _ in range(4))
    h = History()
    for sid, under in ((s_young, True), (s_old, False), (s_unknown, None)):
        h.add(ev.PERSON_REGISTERED, ev.PersonRecord, person_id=sid, display_name="S", roles=["student"],
              school_id=uuid.uuid4(), grade=9, under_14=under, birth_year=None if under is None else 2010)
    async with sessionmaker(engine)() as session, session.begin():
        await deliver(session, h.events)
        d = directory
        # Taking part: from 14 no consent is needed; under 14, or age unknown, a guardian's is.
        assert await d.consent_holds(session, s_old, "participation")
        assert not await d.consent_holds(session, s_young, "participation")
        assert not await d.consent_holds(session, s_unknown, "participation")
        # Their own consent: counts from 14 only.
        for sid in (s_young, s_old):
            await deliver(session, [(ev.CONSENT_GIVEN, ev.ConsentRecord(
                version=h.version + 1, consent_id=uuid.uuid4(), student_id=sid, purpose="participation",
                given_at=datetime.now(UTC)))])
        assert not await d.consent_holds(session, s_young, "participation")
        await deliver(session, [(ev.CONSENT_GIVEN, ev.ConsentRecord(
            version=h.version + 2, consent_id=uuid.uuid4(), student_id=s_young, purpose="participation",
            guardian_id=g, given_at=datetime.now(UTC)))])
        assert await d.consent_holds(session, s_young, "participation")
        # Sharing always needs a consent naming the partner, whatever the age.
        assert not await d.consent_holds(session, s_old, "partner_sharing", uuid.uuid4())
        # Not a student, or unknown: no.
        assert not await d.consent_holds(session, uuid.uuid4(), "participation")


def person(pid: uuid.UUID, *roles: str) -> Principal:
    return Principal(id=str(pid), kind="user", roles=frozenset(roles))


async def test_row_scoping_by_role_from_the_read_model(engine):
    school_a, school_b = uuid.uuid4(), uuid.uuid4()
    s_a, s_b, coord, guardian, other_guardian = (uuid.uuid4() for _ in range(5))
    h = History()
    for sid, school in ((s_a, school_a), (s_b, school_b)):
        h.add(ev.PERSON_REGISTERED, ev.PersonRecord, person_id=sid, display_name="S", roles=["student"], school_id=school, grade=5)
    h.add(ev.PERSON_REGISTERED, ev.PersonRecord, person_id=coord, display_name="C", roles=["coordinator", "guardian"], school_id=school_a)
    h.add(ev.PERSON_REGISTERED, ev.PersonRecord, person_id=guardian, display_name="G", roles=["guardian"])
    h.add(ev.PERSON_REGISTERED, ev.PersonRecord, person_id=other_guardian, display_name="G2", roles=["guardian"])
    h.add(ev.GUARDIAN_LINKED, ev.GuardianLinkRecord, guardian_id=guardian, student_id=s_b, relation="mother")
    h.add(ev.GUARDIAN_LINKED, ev.GuardianLinkRecord, guardian_id=coord, student_id=s_b, relation="father")
    ours = [s_a, s_b]

    async def visible(session, principal: Principal) -> set[uuid.UUID]:
        p = directory.tables.person
        stmt = select(p.c.person_id).where(p.c.person_id.in_(ours), directory.visible_students(principal))
        return set((await session.execute(stmt)).scalars())

    async with sessionmaker(engine)() as session, session.begin():
        await deliver(session, h.events)
        assert await visible(session, person(uuid.uuid4(), "staff")) == {s_a, s_b}
        assert await visible(session, person(uuid.uuid4(), "admin")) == {s_a, s_b}
        # Coordinator of school A and guardian of s_b: both sets.
        assert await visible(session, person(coord, "coordinator", "guardian")) == {s_a, s_b}
        assert await visible(session, person(coord, "coordinator")) == {s_a}
        assert await visible(session, person(guardian, "guardian")) == {s_b}
        assert await visible(session, person(other_guardian, "guardian")) == set()
        assert await visible(session, person(s_a, "student")) == {s_a}
        for role in ("expert", "mentor", "partner"):
            assert await visible(session, person(uuid.uuid4(), role)) == set()
        assert await visible(session, Principal(id="partner-uni", kind="client", roles=frozenset({"partner"}))) == set()
        # A token claiming a role its account no longer has sees nothing by it: the coordinator
        # role and the school come from the read model.
        assert await visible(session, person(guardian, "coordinator")) == set()
        # The coordinator moves to school B: the read model, not the token, decides.
        await deliver(session, [(ev.PERSON_UPDATED, ev.PersonRecord(
            version=h.version + 1, person_id=coord, display_name="C", roles=["coordinator", "guardian"], school_id=school_b))])
        assert await visible(session, person(coord, "coordinator")) == {s_b}
        # The guardian is unlinked: their child leaves their view.
        await deliver(session, [(ev.GUARDIAN_UNLINKED, ev.GuardianLinkRecord(
            version=h.version + 2, guardian_id=guardian, student_id=s_b, linked=False))])
        assert await visible(session, person(guardian, "guardian")) == set()
        # The generic clause scopes any table with a student column the same way.
        clause = directory.visible(person(s_a, "student"), literal(s_a, UUID(as_uuid=True)))
        assert (await session.execute(select(clause))).scalar() is True


async def test_the_consumer_applies_published_events_in_every_service(engine, database_url):
    """Published at the gateway's side (the event table), applied by each service's own consumer."""
    sid, school = uuid.uuid4(), uuid.uuid4()
    record = ev.PersonRecord(version=1, person_id=sid, display_name="Zhao Lei", roles=["student"], school_id=school, grade=6)
    settings = BaseServiceSettings(database_url=database_url, env="test", events_poll_interval=0.2)
    directories = (directory, mentoring_directory, courses_directory)
    async with run_consumers(engine, database_url, [d.consumer for d in directories], settings, cleanup_every=None):
        async with sessionmaker(engine)() as session, session.begin():
            await publish(session, type=ev.PERSON_REGISTERED, subject=sid, payload=record, source="gateway")

        async def known() -> bool:
            async with sessionmaker(engine)() as session:
                return all([await d.school_of(session, sid) == school for d in directories])

        await wait_until(known, timeout=10, what="every read model knows the student")

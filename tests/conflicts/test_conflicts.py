"""Conflicts of interest on a real read model: an expert of the student's own school, a guardian, the
student themself, and what experts and staff declare; an assignment's every pair in one statement."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from shared.conflicts import GUARDIAN, OWN_SCHOOL, SELF, Conflict, ConflictKind, ConflictSource, Conflicts
from shared.db import make_metadata
from shared.directory import Directory
from shared.directory.store import apply, group_by_kind
from shared.events.contracts.identity import DirectoryRecord, GuardianLinkRecord, PersonRecord, SchoolRecord
from shared.problems import ProblemError

K, S = ConflictKind, ConflictSource


@dataclass
class World:
    conflicts: Conflicts
    directory: Directory
    version: int = 0

    async def records(self, session: AsyncSession, *records: DirectoryRecord) -> None:
        for group in group_by_kind(records).values():
            for start in range(0, len(group), 1000):
                await apply(session, self.directory.tables, group[start : start + 1000])

    def v(self) -> int:
        self.version += 1
        return self.version

    async def school(self, session: AsyncSession) -> uuid.UUID:
        school_id = uuid.uuid4()
        await self.records(session, SchoolRecord(version=self.v(), school_id=school_id, name=f"School {school_id.hex[:4]}",
                                                 district="思明区", level="middle"))
        return school_id

    def student(self, school_id: uuid.UUID | None) -> PersonRecord:
        return PersonRecord(version=self.v(), person_id=uuid.uuid4(), roles=["student"], display_name="学生",
                            school_id=school_id, grade=8)

    def guardian(self) -> PersonRecord:
        return PersonRecord(version=self.v(), person_id=uuid.uuid4(), roles=["guardian", "expert"], display_name="家长")

    def link(self, guardian: PersonRecord, student: PersonRecord, *, linked: bool = True) -> GuardianLinkRecord:
        return GuardianLinkRecord(version=self.v(), guardian_id=guardian.person_id, student_id=student.person_id,
                                  relation="mother", linked=linked)


@pytest.fixture
async def world(session: AsyncSession) -> World:
    """A scratch schema with a directory read model and a conflict table, rolled back with the test."""
    schema = f"conflicts_test_{uuid.uuid4().hex[:10]}"
    metadata = make_metadata(schema)
    directory = Directory(schema, metadata)
    conflicts = Conflicts(schema, metadata, directory)
    await session.execute(text(f'CREATE SCHEMA "{schema}"'))
    await session.run_sync(lambda sync: metadata.create_all(sync.connection()))
    return World(conflicts, directory)


async def test_an_expert_affiliated_with_the_students_school_conflicts_automatically(world: World, session: AsyncSession):
    east, west = await world.school(session), await world.school(session)
    li, wang = world.student(east), world.student(west)
    await world.records(session, li, wang)
    expert, other_expert = uuid.uuid4(), uuid.uuid4()
    found = await world.conflicts.between(
        session, [expert, other_expert], [li.person_id, wang.person_id], affiliations={expert: east, other_expert: None}
    )
    assert found == {(expert, li.person_id): [Conflict(expert, li.person_id, K.own_school, S.automatic, OWN_SCHOOL)]}
    assert await world.conflicts.check(session, expert, wang.person_id, east) == []


async def test_a_guardian_is_a_relative_while_linked(world: World, session: AsyncSession):
    li, wang = world.student(None), world.student(None)
    mother, former = world.guardian(), world.guardian()
    await world.records(session, li, wang, mother, former)
    await world.records(session, world.link(mother, li), world.link(former, wang, linked=False))
    assert await world.conflicts.check(session, mother.person_id, li.person_id, None) == [
        Conflict(mother.person_id, li.person_id, K.relative, S.automatic, f"{GUARDIAN} (mother)")
    ]
    assert await world.conflicts.check(session, mother.person_id, wang.person_id, None) == []
    assert await world.conflicts.check(session, former.person_id, wang.person_id, None) == []


async def test_no_one_assesses_themself(world: World, session: AsyncSession):
    li = world.student(None)
    await world.records(session, li)
    assert await world.conflicts.check(session, li.person_id, li.person_id, None) == [
        Conflict(li.person_id, li.person_id, K.other, S.automatic, SELF)
    ]


async def test_declared_conflicts_count_until_withdrawn(world: World, session: AsyncSession):
    li = world.student(None)
    await world.records(session, li)
    expert = uuid.uuid4()
    taught = await world.conflicts.declare(session, assessor_id=expert, student_id=li.person_id, kind="taught",
                                           source="expert", reason="  taught her olympiad class in 2025 ", by=str(expert))
    assert taught == Conflict(expert, li.person_id, K.taught, S.expert, "taught her olympiad class in 2025")
    await world.conflicts.declare(session, assessor_id=expert, student_id=li.person_id, kind=K.own_school,
                                  source=S.staff, reason=None, by="staff-1")
    found = await world.conflicts.check(session, expert, li.person_id, None)
    assert [(c.kind, c.source) for c in found] == [(K.own_school, S.staff), (K.taught, S.expert)]
    assert await world.conflicts.withdraw(session, assessor_id=expert, student_id=li.person_id, kind="taught", by="staff-1")
    assert not await world.conflicts.withdraw(session, assessor_id=expert, student_id=li.person_id, kind="taught", by="staff-1")
    assert [c.kind for c in await world.conflicts.check(session, expert, li.person_id, None)] == [K.own_school]
    # Declared again after the withdrawal: a new open declaration, the old one kept as history.
    again = await world.conflicts.declare(session, assessor_id=expert, student_id=li.person_id, kind="taught",
                                          source="staff", reason="the 2026 class too", by="staff-1")
    assert again.reason == "the 2026 class too"
    t = world.conflicts.table
    assert (await session.execute(select(func.count()).where(t.c.kind == "taught"))).scalar_one() == 2


async def test_declaring_the_same_open_conflict_twice_answers_the_first(world: World, session: AsyncSession):
    expert, student = uuid.uuid4(), uuid.uuid4()
    first = await world.conflicts.declare(session, assessor_id=expert, student_id=student, kind="collaborator",
                                          source="expert", reason="co-author of a paper", by=str(expert))
    second = await world.conflicts.declare(session, assessor_id=expert, student_id=student, kind="collaborator",
                                           source="staff", reason="another wording", by="staff-1")
    assert second == first
    t = world.conflicts.table
    assert (await session.execute(select(func.count()).select_from(t))).scalar_one() == 1


@pytest.mark.parametrize("kind", ["taught", "collaborator", "other"])
async def test_a_conflict_that_does_not_explain_itself_needs_a_reason(world: World, session: AsyncSession, kind: str):
    with pytest.raises(ProblemError) as refused:
        await world.conflicts.declare(session, assessor_id=uuid.uuid4(), student_id=uuid.uuid4(), kind=kind,
                                      source="staff", reason="   ", by="staff-1")
    assert refused.value.code == "conflict_reason_required"
    t = world.conflicts.table
    assert (await session.execute(select(func.count()).select_from(t))).scalar_one() == 0


async def test_an_assignment_of_5000_candidates_and_60_experts_is_answered_in_one_statement(
    world: World, session: AsyncSession, engine: AsyncEngine
):
    rng = random.Random(8)
    schools = [await world.school(session) for _ in range(10)]
    students = [world.student(rng.choice(schools)) for _ in range(5000)]
    guardians = [world.guardian() for _ in range(5)]
    await world.records(session, *students, *guardians)
    linked = rng.sample(students, 5)
    await world.records(session, *(world.link(g, s) for g, s in zip(guardians, linked)))
    experts = [uuid.uuid4() for _ in range(55)] + [g.person_id for g in guardians]
    affiliations = {e: rng.choice([*schools, None]) for e in experts}
    declared = [(rng.choice(experts), rng.choice(students).person_id) for _ in range(40)]
    for expert, student in declared:
        await world.conflicts.declare(session, assessor_id=expert, student_id=student, kind="other",
                                      source="staff", reason="declared in the test", by="staff-1")
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        found = await world.conflicts.between(session, experts, [s.person_id for s in students], affiliations=affiliations)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert len(statements) == 1
    # The rules written out plainly over the same data.
    school_of = {s.person_id: s.school_id for s in students}
    expected: dict[tuple, set] = {}
    for e in experts:
        for s in students:
            if affiliations[e] is not None and affiliations[e] == school_of[s.person_id]:
                expected.setdefault((e, s.person_id), set()).add((K.own_school, S.automatic))
    for g, s in zip(guardians, linked):
        expected.setdefault((g.person_id, s.person_id), set()).add((K.relative, S.automatic))
    for pair in declared:
        expected.setdefault(pair, set()).add((K.other, S.staff))
    assert {pair: {(c.kind, c.source) for c in cs} for pair, cs in found.items()} == expected
    assert len(expected) > 20_000


async def test_the_migration_steps_create_the_table_as_declared_and_drop_it(session: AsyncSession):
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import inspect

    from shared.conflicts import conflicts_table, create_conflicts_table, drop_conflicts_table

    schema = f"conflicts_test_{uuid.uuid4().hex[:10]}"
    await session.execute(text(f'CREATE SCHEMA "{schema}"'))

    def migrate(sync) -> tuple[list[str], set[str]]:
        conn = sync.connection()
        with Operations.context(MigrationContext.configure(conn)):
            create_conflicts_table(schema)
            columns = [c["name"] for c in inspect(conn).get_columns("conflict", schema=schema)]
            indexes = {i["name"] for i in inspect(conn).get_indexes("conflict", schema=schema)}
            drop_conflicts_table(schema)
        return columns, indexes

    columns, indexes = await session.run_sync(migrate)
    assert columns == [c.name for c in conflicts_table(make_metadata(schema)).columns]
    assert indexes == {"uq_conflict_open", "ix_conflict_student_id"}

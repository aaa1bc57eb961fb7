"""Conflicts of interest between assessors and the students they would assess: one set of rules for every panel.

Selection's expert panels (interviews) and mentoring's defense panels and mentor matching
ask the same question, "may this person assess that student?", so the rules live here once.
A conflict is typed (`ConflictKind`) and has a source: declared by the expert themself or by
staff (stored in the service's own `conflict` table, withdrawn rather than deleted, so what
was declared stays visible), or found automatically from the directory read model:

- own_school: the assessor's affiliation (the service's expert or mentor registry knows it,
  so the caller passes it) is the student's school;
- relative: the assessor is the student's guardian (a guardian link in force);
- other, "the assessor is the student": a student account assessing itself.

A declared "taught", "collaborator" or "other" needs a reason (what was taught, which
project); "own_school" and "relative" speak for themselves. Declaring is idempotent: the
same open (assessor, student, kind) answers the conflict already declared.

`between` answers every pair of an assignment in one statement (5,000 candidates by 60
experts is one round trip, not 300,000), which is what a min-cost-flow assignment needs to
leave the conflicted arcs out; `check` asks it for one pair, for a manual edit.

    conflicts = Conflicts(SCHEMA, Base.metadata, directory)                 # services/selection/db.py
    found = await conflicts.between(session, experts, candidates, affiliations={e.id: e.school_id for e in pool})
    create_conflicts_table("selection")                                     # its migration
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, Field

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    any_,
    bindparam,
    column,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared import clock
from shared.db import make_metadata
from shared.directory import Directory
from shared.problems import ProblemError
from shared.strict import RequestModel

if TYPE_CHECKING:
    from shared.chain import Chain


class ConflictKind(StrEnum):
    own_school = "own_school"
    relative = "relative"
    taught = "taught"
    collaborator = "collaborator"
    other = "other"


class ConflictSource(StrEnum):
    """Who declared it: the assessor, staff, or the rules themselves."""

    expert = "expert"
    staff = "staff"
    automatic = "automatic"


# Kinds that do not explain themselves.
NEEDS_REASON = frozenset({ConflictKind.taught, ConflictKind.collaborator, ConflictKind.other})
REASON_MAX = 500

# The reasons of automatic conflicts, as a panel's explanation shows them.
OWN_SCHOOL = "the assessor's affiliation is the student's school"
GUARDIAN = "the assessor is the student's guardian"
SELF = "the assessor is the student"


class ConflictIn(RequestModel):
    """A declaration, as a request body (the assessor is in the path)."""

    student_id: uuid.UUID
    kind: ConflictKind = Field(description="own_school, relative, taught (the student), collaborator, or other.")
    reason: Annotated[str, Field(max_length=2000)] | None = Field(default=None, description="Required for taught, collaborator and other.")


class ConflictOut(BaseModel):
    assessor_id: uuid.UUID = Field(description="The expert or mentor.")
    subject_id: uuid.UUID = Field(description="The student.")
    kind: ConflictKind
    source: ConflictSource = Field(description="Who declared it: the assessor themself (expert), staff, or found automatically.")
    reason: str | None


@dataclass(frozen=True)
class Conflict:
    assessor_id: uuid.UUID
    subject_id: uuid.UUID  # the student
    kind: ConflictKind
    source: ConflictSource
    reason: str | None = None


Pair = tuple[uuid.UUID, uuid.UUID]


def conflicts_table(metadata: MetaData, name: str = "conflict") -> Table:
    """Declared conflicts, in `metadata`'s schema (a service's own)."""
    kinds = ", ".join(f"'{k}'" for k in ConflictKind)
    sources = ", ".join(f"'{s}'" for s in ConflictSource)
    return Table(
        name,
        metadata,
        Column("conflict_id", UUID(as_uuid=True), primary_key=True),
        Column("assessor_id", UUID(as_uuid=True), nullable=False),
        Column("student_id", UUID(as_uuid=True), nullable=False),
        Column("kind", String(20), nullable=False),
        Column("source", String(20), nullable=False),
        Column("reason", String(REASON_MAX)),
        Column("declared_by", String(200), nullable=False),
        Column("declared_at", DateTime(timezone=True), nullable=False),
        Column("withdrawn_at", DateTime(timezone=True)),
        Column("withdrawn_by", String(200)),
        CheckConstraint(f"kind IN ({kinds})", name="kind"),
        CheckConstraint(f"source IN ({sources})", name="source"),
        # One open declaration per (assessor, student, kind); withdrawn ones stay as history.
        Index(
            f"uq_{name}_open", "assessor_id", "student_id", "kind", unique=True,
            postgresql_where=column("withdrawn_at").is_(None),
        ),
        Index(f"ix_{name}_student_id", "student_id"),
    )


def create_conflicts_table(schema: str, name: str = "conflict") -> None:
    """Migration step: the declared conflicts' table in `schema`."""
    from alembic import op

    conflicts_table(make_metadata(schema), name).create(op.get_bind())


def drop_conflicts_table(schema: str, name: str = "conflict") -> None:
    from alembic import op

    op.drop_table(name, schema=schema)


def _uuids(name: str, values: Iterable[uuid.UUID]) -> Any:
    return bindparam(name, list(values), type_=ARRAY(UUID(as_uuid=True)))


def _automatic_reason(kind: str, detail: str | None) -> str:
    if kind == ConflictKind.own_school:
        return OWN_SCHOOL
    if kind == ConflictKind.relative:
        return f"{GUARDIAN} ({detail})" if detail else GUARDIAN
    return SELF


class Conflicts:
    """One service's conflict rules: its declared conflicts and its directory read model."""

    def __init__(self, schema: str, metadata: MetaData, directory: Directory, name: str = "conflict") -> None:
        if metadata.schema != schema:
            raise ValueError(f"the conflicts' table goes in {schema!r}, the metadata's schema is {metadata.schema!r}")
        self.schema = schema
        self.table = conflicts_table(metadata, name)
        self.directory = directory

    async def declare(
        self, session: AsyncSession, *, assessor_id: uuid.UUID, student_id: uuid.UUID, kind: ConflictKind | str,
        source: ConflictSource | str, reason: str | None, by: str,
    ) -> Conflict:
        """Declare a conflict; the same one still open is answered as it was declared."""
        kind, source = ConflictKind(kind), ConflictSource(source)
        reason = (reason or "").strip() or None
        if kind in NEEDS_REASON and reason is None:
            raise ProblemError("conflict_reason_required", kind=kind.value)
        t = self.table
        stmt = (
            pg_insert(t)
            .values(
                conflict_id=uuid.uuid4(), assessor_id=assessor_id, student_id=student_id, kind=kind.value,
                source=source.value, reason=reason, declared_by=by, declared_at=clock.now(),
            )
            .on_conflict_do_nothing(index_elements=["assessor_id", "student_id", "kind"], index_where=t.c.withdrawn_at.is_(None))
            .returning(t.c.assessor_id, t.c.student_id, t.c.kind, t.c.source, t.c.reason)
        )
        row = (await session.execute(stmt)).first()
        if row is None:
            row = (await session.execute(self._open(assessor_id, student_id, kind))).one()
        return Conflict(row.assessor_id, row.student_id, ConflictKind(row.kind), ConflictSource(row.source), row.reason)

    async def declare_recorded(
        self, session: AsyncSession, chain: Chain, table: Table, *, assessor_id: uuid.UUID, data: ConflictIn, by_self: bool, actor: str,
    ) -> Conflict:
        """A declaration through an API: by the assessor themself (`by_self`) or staff, of a student
        the directory holds, appended to the service's record chain against the assessor's row."""
        if await self.directory.person(session, data.student_id) is None:
            raise ProblemError("student_not_found", student_id=data.student_id)
        source = ConflictSource.expert if by_self else ConflictSource.staff
        found = await self.declare(
            session, assessor_id=assessor_id, student_id=data.student_id, kind=data.kind, source=source, reason=data.reason, by=actor,
        )
        await chain.append(
            session, kind="conflict.declared", table=table, row_id=assessor_id, actor=actor,
            payload={"student_id": data.student_id, "kind": data.kind.value, "source": source.value, "reason": data.reason},
        )
        return found

    async def withdraw(
        self, session: AsyncSession, *, assessor_id: uuid.UUID, student_id: uuid.UUID, kind: ConflictKind | str, by: str
    ) -> bool:
        """Withdraw the open declaration of that kind; False when there is none."""
        t = self.table
        stmt = (
            t.update()
            .where(t.c.assessor_id == assessor_id, t.c.student_id == student_id, t.c.kind == ConflictKind(kind).value,
                   t.c.withdrawn_at.is_(None))
            .values(withdrawn_at=clock.now(), withdrawn_by=by)
        )
        return (await session.execute(stmt)).rowcount > 0

    async def declared(self, session: AsyncSession, assessor_id: uuid.UUID) -> list[Conflict]:
        """The open declarations of one assessor, oldest first (the automatic ones are not stored)."""
        t = self.table
        stmt = select(t).where(t.c.assessor_id == assessor_id, t.c.withdrawn_at.is_(None)).order_by(t.c.declared_at, t.c.conflict_id)
        return [
            Conflict(r.assessor_id, r.student_id, ConflictKind(r.kind), ConflictSource(r.source), r.reason)
            for r in (await session.execute(stmt)).all()
        ]

    def _open(self, assessor_id: uuid.UUID, student_id: uuid.UUID, kind: ConflictKind) -> Any:
        t = self.table
        return select(t.c.assessor_id, t.c.student_id, t.c.kind, t.c.source, t.c.reason).where(
            t.c.assessor_id == assessor_id, t.c.student_id == student_id, t.c.kind == kind.value, t.c.withdrawn_at.is_(None)
        )

    async def between(
        self, session: AsyncSession, assessor_ids: Iterable[uuid.UUID], student_ids: Iterable[uuid.UUID], *,
        affiliations: Mapping[uuid.UUID, uuid.UUID | None],
    ) -> dict[Pair, list[Conflict]]:
        """Every conflict between the assessors and the students, declared and automatic, in one statement.

        Only conflicted pairs are keys; each list is ordered by kind, then source.
        `affiliations` gives each assessor's school (None: none); assessors it does not name have none.
        """
        assessors, students = list(dict.fromkeys(assessor_ids)), list(dict.fromkeys(student_ids))
        if not assessors or not students:
            return {}
        found: dict[Pair, list[Conflict]] = {}
        for row in await session.execute(self._between(assessors, students, affiliations)):
            source = ConflictSource(row.source)
            reason = _automatic_reason(row.kind, row.reason) if source == ConflictSource.automatic else row.reason
            found.setdefault((row.assessor_id, row.student_id), []).append(
                Conflict(row.assessor_id, row.student_id, ConflictKind(row.kind), source, reason)
            )
        for conflicts in found.values():
            conflicts.sort(key=lambda c: (c.kind, c.source))
        return found

    def _between(self, assessors: list[uuid.UUID], students: list[uuid.UUID], affiliations: Mapping) -> Any:
        """The UNION ALL of the four rules; the automatic rows carry a detail (the guardian's relation) as reason."""
        t, person, link = self.table, self.directory.tables.person, self.directory.tables.guardian_link
        wanted = set(assessors)
        affiliated = [(a, school) for a, school in affiliations.items() if school is not None and a in wanted]
        a_ids, s_ids = _uuids("assessors", assessors), _uuids("students", students)
        automatic = literal(ConflictSource.automatic.value, String)
        declared = select(t.c.assessor_id, t.c.student_id, t.c.kind, t.c.source, t.c.reason).where(
            t.c.withdrawn_at.is_(None), t.c.assessor_id == any_(a_ids), t.c.student_id == any_(s_ids)
        )
        affiliation = func.unnest(
            _uuids("affiliated", [a for a, _ in affiliated]), _uuids("schools", [s for _, s in affiliated])
        ).table_valued("assessor_id", "school_id").render_derived()
        own_school = (
            select(affiliation.c.assessor_id, person.c.person_id, literal(ConflictKind.own_school.value, String), automatic,
                   literal(None, String))
            .join_from(affiliation, person, person.c.school_id == affiliation.c.school_id)
            .where(person.c.person_id == any_(s_ids))
        )
        relative = select(
            link.c.guardian_id, link.c.student_id, literal(ConflictKind.relative.value, String), automatic, link.c.relation
        ).where(link.c.linked.is_(True), link.c.guardian_id == any_(a_ids), link.c.student_id == any_(s_ids))
        me = func.unnest(a_ids).table_valued("id").render_derived()
        itself = select(me.c.id, me.c.id, literal(ConflictKind.other.value, String), automatic, literal(None, String)).where(
            me.c.id == any_(s_ids)
        )
        # The first SELECT names the columns: assessor_id, student_id, kind, source, reason.
        return union_all(declared, own_school, relative, itself)

    async def check(
        self, session: AsyncSession, assessor_id: uuid.UUID, student_id: uuid.UUID, affiliation: uuid.UUID | None
    ) -> list[Conflict]:
        """The conflicts of one pair (a manual edit of a panel); empty when the assessor may assess the student."""
        found = await self.between(session, [assessor_id], [student_id], affiliations={assessor_id: affiliation})
        return found.get((assessor_id, student_id), [])

"""The directory read model's tables, created in each service's own schema by its own migration.

A service declares them on its metadata (`Directory(SCHEMA, Base.metadata)` in its db.py),
and its first migration that wants them calls `create_directory_tables(schema)`. A later
change to a table takes a revision of its own (as shared/idempotency.py's later columns do);
this function keeps creating the tables as they first were.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from shared.db import make_metadata


def _version() -> Column:
    return Column("version", BigInteger, nullable=False)


def _updated_at() -> Column:
    return Column("updated_at", DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False)


@dataclass(frozen=True)
class DirectoryTables:
    person: Table
    guardian_link: Table
    school: Table
    partner: Table
    consent: Table
    # One row (id 1) once the read model holds a complete load (`sprout directory resync`).
    sync: Table

    @property
    def records(self) -> tuple[Table, ...]:
        return (self.person, self.guardian_link, self.school, self.partner, self.consent)


def directory_tables(metadata: MetaData) -> DirectoryTables:
    """The tables in `metadata`'s schema (a service's own)."""
    person = Table(
        "directory_person",
        metadata,
        Column("person_id", UUID(as_uuid=True), primary_key=True),
        _version(),
        Column("roles", ARRAY(String(20)), nullable=False),
        Column("display_name", String(100), nullable=False),
        Column("school_id", UUID(as_uuid=True)),
        Column("partner_id", UUID(as_uuid=True)),
        Column("grade", SmallInteger),
        Column("birth_year", SmallInteger),
        Column("under_14", Boolean),
        Column("disabled", Boolean, nullable=False),
        _updated_at(),
        Index("ix_directory_person_school_id_person_id", "school_id", "person_id"),
    )
    guardian_link = Table(
        "directory_guardian_link",
        metadata,
        Column("student_id", UUID(as_uuid=True), primary_key=True),
        Column("guardian_id", UUID(as_uuid=True), primary_key=True),
        _version(),
        Column("relation", String(20)),
        # An unlinked guardian keeps its row (linked false) and version, so an older "linked"
        # delivered late cannot bring the link back.
        Column("linked", Boolean, nullable=False),
        _updated_at(),
        Index("ix_directory_guardian_link_guardian_id_student_id", "guardian_id", "student_id"),
    )
    school = Table(
        "directory_school",
        metadata,
        Column("school_id", UUID(as_uuid=True), primary_key=True),
        _version(),
        Column("name", String(200), nullable=False),
        Column("district", String(100), nullable=False),
        Column("level", String(10), nullable=False),
        Column("disabled", Boolean, nullable=False),
        _updated_at(),
    )
    partner = Table(
        "directory_partner",
        metadata,
        Column("partner_id", UUID(as_uuid=True), primary_key=True),
        _version(),
        Column("name", String(200), nullable=False),
        _updated_at(),
    )
    consent = Table(
        "directory_consent",
        metadata,
        Column("consent_id", UUID(as_uuid=True), primary_key=True),
        _version(),
        Column("student_id", UUID(as_uuid=True), nullable=False),
        Column("purpose", String(30), nullable=False),
        Column("partner_id", UUID(as_uuid=True)),
        Column("guardian_id", UUID(as_uuid=True)),
        Column("given_at", DateTime(timezone=True), nullable=False),
        Column("ended_at", DateTime(timezone=True)),
        Column("end_reason", String(40)),
        _updated_at(),
        Index("ix_directory_consent_student_id_purpose", "student_id", "purpose"),
    )
    sync = Table(
        "directory_sync",
        metadata,
        Column("id", SmallInteger, primary_key=True),
        Column("synced_at", DateTime(timezone=True), nullable=False),
        Column("records", Integer, nullable=False),
    )
    return DirectoryTables(person, guardian_link, school, partner, consent, sync)


def create_directory_tables(schema: str) -> None:
    """Migration step: the read model's tables in `schema`."""
    from alembic import op

    tables = directory_tables(make_metadata(schema))
    bind = op.get_bind()
    for table in (*tables.records, tables.sync):
        table.create(bind)


def drop_directory_tables(schema: str) -> None:
    from alembic import op

    tables = directory_tables(make_metadata(schema))
    for table in (*tables.records, tables.sync):
        op.drop_table(table.name, schema=schema)

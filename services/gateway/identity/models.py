"""Identity tables: schools, user accounts (with encrypted personal data), guardian links, partners, the access log."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.gateway.db import SCHEMA, Base
from services.gateway.directory.versions import version_column
from services.gateway.identity.validation import RELATIONS
from shared.auth import USER_ROLES


class SchoolLevel(StrEnum):
    primary = "primary"
    middle = "middle"
    high = "high"


def _roles_sql() -> str:
    # The roles a person can hold (machine clients' roles live on their client record). The
    # migration spells the same list out; tests/identity/test_schema.py holds the two equal.
    return "ARRAY[" + ", ".join(f"'{r}'" for r in USER_ROLES) + "]::varchar[]"


class School(Base):
    __tablename__ = "school"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    district: Mapped[str] = mapped_column(String(100))
    level: Mapped[SchoolLevel] = mapped_column(
        Enum(SchoolLevel, name="school_level", schema=SCHEMA, values_callable=lambda e: [m.value for m in e])
    )
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), onupdate=func.now())
    directory_version: Mapped[int] = version_column()

    __mapper_args__ = {"eager_defaults": True}
    __table_args__ = (Index("ix_school_name_id", "name", "id"),)


class UserAccount(Base):
    """A person who may log in (or may later): their roles and, for students, their school and grade.

    Personal data (ID number, phone, address) is stored only encrypted (shared/crypto.py),
    bound to this row and column; the blind indexes answer "is this ID number / phone known?".
    """

    __tablename__ = "user_account"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(20)))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    school_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("gateway.school.id"))
    # A person with role partner works for one partner university, and sees only what its
    # students consented to share with it (as the university's machine clients do).
    partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("gateway.partner.id"))
    grade: Mapped[int | None] = mapped_column(SmallInteger)
    birth_date: Mapped[date | None] = mapped_column(Date)
    id_number_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_number_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Not unique: a family may share one phone. Guardians are matched by it on import.
    phone_index: Mapped[str | None] = mapped_column(String(64), index=True)
    address_cipher: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), onupdate=func.now())
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    directory_version: Mapped[int] = version_column()
    # When the directory last published this person (shared.clock): whether the published
    # record's `under_14` is out of date once they turn 14 (directory/publisher.py).
    directory_published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # eager_defaults: read back the server-set timestamps in the same statement (RETURNING),
    # since an expired attribute cannot lazy-load under asyncio.
    __mapper_args__ = {"version_id_col": version, "eager_defaults": True}
    __table_args__ = (
        Index("uq_user_account_username_lower", func.lower(username), unique=True),
        Index("ix_user_account_school_id_id", "school_id", "id"),
        Index("ix_user_account_created_at_id", "created_at", "id"),
        CheckConstraint("cardinality(roles) >= 1", name="roles_not_empty"),
        CheckConstraint(f"roles <@ {_roles_sql()}", name="roles_known"),
        CheckConstraint("grade BETWEEN 1 AND 12", name="grade_range"),
        CheckConstraint(
            "NOT ('student' = ANY(roles)) OR (school_id IS NOT NULL AND grade IS NOT NULL)", name="student_has_school"
        ),
        CheckConstraint("NOT ('coordinator' = ANY(roles)) OR school_id IS NOT NULL", name="coordinator_has_school"),
        CheckConstraint("('partner' = ANY(roles)) = (partner_id IS NOT NULL)", name="partner_iff_partner_role"),
    )

    def has_role(self, role: str) -> bool:
        return role in self.roles


class GuardianLink(Base):
    __tablename__ = "guardian_link"

    guardian_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gateway.user_account.id"), primary_key=True)
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gateway.user_account.id"), primary_key=True)
    relation: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    directory_version: Mapped[int] = version_column()

    __table_args__ = (
        # A student's guardians, and the directory snapshot's order (student_id, guardian_id).
        Index("ix_guardian_link_student_id_guardian_id", "student_id", "guardian_id"),
        CheckConstraint(
            "relation IN (" + ", ".join(f"'{r}'" for r in RELATIONS) + ")", name="relation_known"
        ),
        CheckConstraint("guardian_id <> student_id", name="not_self"),
    )


class Partner(Base):
    """A partner university: students' data is shared with it only under a consent naming it."""

    __tablename__ = "partner"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    directory_version: Mapped[int] = version_column()

    __table_args__ = (Index("ix_partner_name_id", "name", "id"),)


class PiiAccessLog(Base):
    """One unmasked read of a person's personal data, or one profile shared with a partner: who, as
    which roles, whose, which fields, why (and, for a share, under which consent).

    `student_id` is the person whose data was read (a student, or a guardian read on a
    student's behalf); written in the same transaction as the read it records.
    """

    __tablename__ = "pii_access_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    reader_id: Mapped[str] = mapped_column(String(100))
    reader_roles: Mapped[list[str]] = mapped_column(ARRAY(String(20)))
    student_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    fields: Mapped[list[str]] = mapped_column(ARRAY(String(30)))
    reason: Mapped[str] = mapped_column(String(200))
    # For data shared with a partner university: the consent it was shared under. No foreign
    # key, like `student_id`: the log outlives what it names.
    consent_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    request_id: Mapped[str | None] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        Index("ix_pii_access_log_student_id_at", "student_id", "at"),
        Index("ix_pii_access_log_reader_id_at", "reader_id", "at"),
        Index("ix_pii_access_log_at_id", "at", "id"),
    )

"""The consent table: one row per consent given, closed when it ends (and why)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, Enum, ForeignKey, Index, String, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from services.gateway.db import SCHEMA, Base
from services.gateway.directory.versions import version_column


class ConsentPurpose(StrEnum):
    participation = "participation"
    partner_sharing = "partner_sharing"


class ConsentEnd(StrEnum):
    """Why a consent is no longer in force."""

    withdrawn = "withdrawn"  # by a guardian, or by the student from 14 (`ended_by` says who)
    superseded = "superseded"  # consent to a newer text replaced it
    guardian_unlinked = "guardian_unlinked"  # its guardian is no longer linked to the student
    guardian_disabled = "guardian_disabled"  # its guardian's account was disabled
    guardian_role_removed = "guardian_role_removed"  # its guardian no longer holds the guardian role


class Consent(Base):
    """A consent for one student and purpose (and, for sharing, one partner).

    `guardian_id` is the guardian who gave it; NULL when a student aged 14 or more gave it
    themselves. At most one consent per (student, purpose, partner) is open (not ended): a
    partial unique index says so, so two concurrent "give" requests cannot both win. An ended
    consent stays ended: a guardian linked or enabled again consents again.
    """

    __tablename__ = "consent"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gateway.user_account.id"))
    guardian_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("gateway.user_account.id"))
    purpose: Mapped[ConsentPurpose] = mapped_column(
        Enum(ConsentPurpose, name="consent_purpose", schema=SCHEMA, values_callable=lambda e: [m.value for m in e])
    )
    partner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("gateway.partner.id"))
    text_version: Mapped[str] = mapped_column(String(50))
    given_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[ConsentEnd | None] = mapped_column(
        Enum(ConsentEnd, name="consent_end", schema=SCHEMA, values_callable=lambda e: [m.value for m in e])
    )
    # Who ended it: the user id of whoever withdrew, gave the newer consent, or unlinked or
    # disabled the guardian (a client id for a machine client).
    ended_by: Mapped[str | None] = mapped_column(String(100))
    directory_version: Mapped[int] = version_column()

    __table_args__ = (
        CheckConstraint(
            "(purpose = 'partner_sharing') = (partner_id IS NOT NULL)", name="partner_iff_sharing"
        ),
        CheckConstraint("ended_at IS NULL OR ended_at >= given_at", name="ended_after_given"),
        CheckConstraint("(ended_at IS NULL) = (end_reason IS NULL)", name="ended_with_reason"),
        Index(
            "uq_consent_open",
            "student_id",
            "purpose",
            text("coalesce(partner_id, '00000000-0000-0000-0000-000000000000'::uuid)"),
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
        ),
        # The open consents a guardian gave: what unlinking or disabling them ends.
        Index("ix_consent_guardian_id_open", "guardian_id", postgresql_where=text("ended_at IS NULL")),
        Index("ix_consent_student_id_given_at", "student_id", "given_at"),
        Index("ix_consent_given_at_id", "given_at", "id"),
    )

"""Consents end for a reason (withdrawn, superseded, guardian unlinked, disabled or no longer a guardian); shares name their consent.

Revision ID: gat0005
Revises: gat0004
Create Date: 2026-12-01 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gat0005"
down_revision: str | None = "gat0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

END_REASONS = ("withdrawn", "superseded", "guardian_unlinked", "guardian_disabled", "guardian_role_removed")


def upgrade() -> None:
    consent_end = sa.Enum(*END_REASONS, name="consent_end", schema="gateway")
    consent_end.create(op.get_bind())
    op.alter_column("consent", "withdrawn_at", new_column_name="ended_at", schema="gateway")
    op.alter_column("consent", "withdrawn_by", new_column_name="ended_by", schema="gateway")
    op.add_column("consent", sa.Column("end_reason", consent_end, nullable=True), schema="gateway")
    # Until now a consent ended by withdrawal, or by a newer text ("superseded" in withdrawn_by).
    op.execute(
        "UPDATE gateway.consent SET end_reason = CASE WHEN ended_by = 'superseded' THEN 'superseded' ELSE 'withdrawn' END::gateway.consent_end,"
        " ended_by = NULLIF(ended_by, 'superseded') WHERE ended_at IS NOT NULL"
    )
    op.drop_constraint(op.f("ck_consent_withdrawn_after_given"), "consent", schema="gateway")
    op.create_check_constraint(
        op.f("ck_consent_ended_after_given"), "consent", "ended_at IS NULL OR ended_at >= given_at", schema="gateway"
    )
    op.create_check_constraint(
        op.f("ck_consent_ended_with_reason"), "consent", "(ended_at IS NULL) = (end_reason IS NULL)", schema="gateway"
    )
    op.create_index(
        "ix_consent_guardian_id_open", "consent", ["guardian_id"], unique=False, schema="gateway",
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    # The partial unique index's predicate followed the renamed column; it is rebuilt so its
    # definition reads as the model declares it.
    op.drop_index("uq_consent_open", table_name="consent", schema="gateway")
    op.create_index(
        "uq_consent_open", "consent",
        ["student_id", "purpose", sa.literal_column("coalesce(partner_id, '00000000-0000-0000-0000-000000000000'::uuid)")],
        unique=True, schema="gateway", postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.add_column("pii_access_log", sa.Column("consent_id", sa.UUID(), nullable=True), schema="gateway")


def downgrade() -> None:
    op.drop_column("pii_access_log", "consent_id", schema="gateway")
    op.drop_index("ix_consent_guardian_id_open", table_name="consent", schema="gateway")
    op.drop_constraint(op.f("ck_consent_ended_with_reason"), "consent", schema="gateway")
    op.drop_constraint(op.f("ck_consent_ended_after_given"), "consent", schema="gateway")
    op.execute("UPDATE gateway.consent SET ended_by = 'superseded' WHERE end_reason = 'superseded'")
    op.drop_column("consent", "end_reason", schema="gateway")
    op.alter_column("consent", "ended_by", new_column_name="withdrawn_by", schema="gateway")
    op.alter_column("consent", "ended_at", new_column_name="withdrawn_at", schema="gateway")
    op.create_check_constraint(
        op.f("ck_consent_withdrawn_after_given"), "consent", "withdrawn_at IS NULL OR withdrawn_at >= given_at", schema="gateway"
    )
    op.execute("DROP TYPE IF EXISTS gateway.consent_end")

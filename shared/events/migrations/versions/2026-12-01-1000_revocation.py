"""Ended sign-ins: the revocation table every service reads, and its NOTIFY trigger.

Revision ID: e0003
Revises: e0002
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e0003"
down_revision: str | None = "e0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "revocation",
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("kind", "subject", name="pk_revocation"),
        sa.CheckConstraint("kind IN ('user', 'client')", name=op.f("ck_revocation_kind_known")),
        schema="events",
    )
    op.create_index("ix_revocation_revoked_at", "revocation", ["revoked_at"], schema="events")

    # One empty NOTIFY per writing statement (PostgreSQL folds identical ones within a
    # transaction): a wake-up call, after which every process reads the table again.
    op.execute(
        """
        CREATE FUNCTION events.notify_revocation() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('sprout_revocations', '');
            RETURN NULL;
        END $$;
        """
    )
    op.execute(
        """
        CREATE TRIGGER revocation_notify AFTER INSERT OR UPDATE ON events.revocation
        FOR EACH STATEMENT EXECUTE FUNCTION events.notify_revocation();
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS revocation_notify ON events.revocation")
    op.execute("DROP FUNCTION IF EXISTS events.notify_revocation()")
    op.drop_table("revocation", schema="events")

"""Claims that count their attempt up front, claims by due time, dead deliveries that hold their subject, discard.

- `claim_id`, `claim_size`: the claim that has a delivery in hand and how many it took, so an
  attempt whose process died is still counted, and charged to the right delivery.
- `ix_delivery_pending_due` replaces `ix_delivery_pending`: the claim reads due rows in
  `available_at` order, so timers not yet due are never read.
- `ix_delivery_dead_subject` replaces `ix_delivery_dead`: "is a dead delivery holding this
  subject?" is asked of every head.
- `discarded`: a dead delivery ops chose to skip; cleaned up like a done one, so the cleanup
  index covers every settled row (`done_at` is set exactly for those).

Every change is additive for the release before it: its publishers and claims keep working.

Revision ID: e0002
Revises: e0001
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "e0002"
down_revision: str | None = "e0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Usable from the next transaction on; nothing below names the new value.
    op.execute("ALTER TYPE events.delivery_status ADD VALUE IF NOT EXISTS 'discarded'")
    op.add_column("delivery", sa.Column("claim_id", postgresql.UUID(as_uuid=True), nullable=True), schema="events")
    op.add_column("delivery", sa.Column("claim_size", sa.Integer(), nullable=True), schema="events")

    op.drop_index("ix_delivery_pending", table_name="delivery", schema="events")
    op.create_index(
        "ix_delivery_pending_due", "delivery", ["consumer", "available_at", "id"], schema="events",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_index("ix_delivery_dead", table_name="delivery", schema="events")
    op.create_index(
        "ix_delivery_dead_subject", "delivery", ["consumer", "subject", "id"], schema="events",
        postgresql_where=sa.text("status = 'dead'"),
    )
    op.drop_index("ix_delivery_done_at", table_name="delivery", schema="events")
    op.create_index(
        "ix_delivery_done_at", "delivery", ["done_at"], schema="events",
        postgresql_where=sa.text("done_at IS NOT NULL"),
    )


def downgrade() -> None:
    # PostgreSQL cannot drop an enum value. A discarded delivery goes back to what it was
    # before ops skipped it, dead, which the older code knows how to show and replay.
    op.execute("UPDATE events.delivery SET status = 'dead', done_at = NULL WHERE status = 'discarded'")
    op.drop_index("ix_delivery_done_at", table_name="delivery", schema="events")
    op.create_index(
        "ix_delivery_done_at", "delivery", ["done_at"], schema="events",
        postgresql_where=sa.text("status = 'done'"),
    )
    op.drop_index("ix_delivery_dead_subject", table_name="delivery", schema="events")
    op.create_index(
        "ix_delivery_dead", "delivery", ["consumer", "id"], schema="events",
        postgresql_where=sa.text("status = 'dead'"),
    )
    op.drop_index("ix_delivery_pending_due", table_name="delivery", schema="events")
    op.create_index(
        "ix_delivery_pending", "delivery", ["consumer", "id"], schema="events",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_column("delivery", "claim_size", schema="events")
    op.drop_column("delivery", "claim_id", schema="events")

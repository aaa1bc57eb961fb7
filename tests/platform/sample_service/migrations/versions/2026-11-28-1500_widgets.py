"""The sample schema: widgets to page through, and the idempotency keys.

Revision ID: sample0001
Revises:
Create Date: 2026-11-28 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.idempotency import create_idempotency_table, drop_idempotency_table

revision: str = "sample0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "platform_sample"


def upgrade() -> None:
    create_idempotency_table(SCHEMA)
    op.create_table(
        "widget",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("batch", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        schema=SCHEMA,
    )
    op.create_index("ix_widget_batch_rank_id", "widget", ["batch", "rank", "id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("widget", schema=SCHEMA)
    drop_idempotency_table(SCHEMA)

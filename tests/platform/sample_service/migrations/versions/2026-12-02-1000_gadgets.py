"""The sample schema: gadgets, with two unique constraints and a check, for the unique-insert and If-Match helpers.

Revision ID: sample0003
Revises: sample0002
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "sample0003"
down_revision: str | None = "sample0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "platform_sample"


def upgrade() -> None:
    op.create_table(
        "gadget",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("batch", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.UniqueConstraint("code", name="uq_gadget_code"),
        sa.UniqueConstraint("batch", "name", name="uq_gadget_batch_name"),
        sa.CheckConstraint("code <> ''", name="ck_gadget_code_not_empty"),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("gadget", schema=SCHEMA)

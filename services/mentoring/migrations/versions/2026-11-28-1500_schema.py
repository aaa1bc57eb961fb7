"""The mentoring schema and its idempotency keys.

Revision ID: men0001
Revises:
Create Date: 2026-11-28 15:00:00
"""

from collections.abc import Sequence

from shared.idempotency import create_idempotency_table, drop_idempotency_table

revision: str = "men0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_idempotency_table("mentoring")


def downgrade() -> None:
    drop_idempotency_table("mentoring")

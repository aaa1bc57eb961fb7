"""The courses schema: the idempotency keys keep the first answer's Location and ETag, so a replay repeats them.

Revision ID: cou0002
Revises: cou0001
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

from shared.idempotency import add_idempotency_response_headers, drop_idempotency_response_headers

revision: str = "cou0002"
down_revision: str | None = "cou0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_idempotency_response_headers("courses")


def downgrade() -> None:
    drop_idempotency_response_headers("courses")

"""The catalogue API: a version on courses, terms and sections (their ETags, for If-Match).

Revision ID: cou0005
Revises: cou0004
Create Date: 2026-12-03 15:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cou0005"
down_revision: str | None = "cou0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("course", "term", "section")


def upgrade() -> None:
    for table in TABLES:
        # Rows written before have version 1; afterwards the ORM sets and raises it.
        op.add_column(table, sa.Column("version", sa.Integer(), nullable=False, server_default="1"), schema="courses")
        op.alter_column(table, "version", server_default=None, schema="courses")


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, "version", schema="courses")

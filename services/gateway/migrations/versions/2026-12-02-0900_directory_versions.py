"""The directory's versions: one sequence, and the version each published row carries.

Revision ID: gat0006
Revises: gat0005
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "gat0006"
down_revision: str | None = "gat0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("school", "user_account", "partner", "guardian_link", "consent")


def upgrade() -> None:
    op.execute("CREATE SEQUENCE gateway.directory_version")
    for table in TABLES:
        op.add_column(
            table, sa.Column("directory_version", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
            schema="gateway",
        )
        # What exists already is the directory's first state: each row its own version.
        op.execute(f"UPDATE gateway.{table} SET directory_version = nextval('gateway.directory_version')")
    op.add_column(
        "user_account", sa.Column("directory_published_at", sa.DateTime(timezone=True), nullable=True), schema="gateway"
    )
    op.create_index(
        "ix_guardian_link_student_id_guardian_id", "guardian_link", ["student_id", "guardian_id"], unique=False,
        schema="gateway",
    )
    op.drop_index("ix_guardian_link_student_id", table_name="guardian_link", schema="gateway")


def downgrade() -> None:
    op.create_index("ix_guardian_link_student_id", "guardian_link", ["student_id"], unique=False, schema="gateway")
    op.drop_index("ix_guardian_link_student_id_guardian_id", table_name="guardian_link", schema="gateway")
    op.drop_column("user_account", "directory_published_at", schema="gateway")
    for table in TABLES:
        op.drop_column(table, "directory_version", schema="gateway")
    op.execute("DROP SEQUENCE gateway.directory_version")

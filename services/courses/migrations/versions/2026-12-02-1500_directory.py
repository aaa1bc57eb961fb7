"""The courses schema: the directory read model (shared/directory/), kept from the gateway's events.

Revision ID: cou0003
Revises: cou0002
Create Date: 2026-12-02 15:00:00
"""

from collections.abc import Sequence

from shared.directory import create_directory_tables, drop_directory_tables

revision: str = "cou0003"
down_revision: str | None = "cou0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_directory_tables("courses")


def downgrade() -> None:
    drop_directory_tables("courses")

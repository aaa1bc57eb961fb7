"""The mentoring schema: the directory read model (shared/directory/), kept from the gateway's events.

Revision ID: men0003
Revises: men0002
Create Date: 2026-12-02 15:00:00
"""

from collections.abc import Sequence

from shared.directory import create_directory_tables, drop_directory_tables

revision: str = "men0003"
down_revision: str | None = "men0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_directory_tables("mentoring")


def downgrade() -> None:
    drop_directory_tables("mentoring")

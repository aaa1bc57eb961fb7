"""events.revocation is the gateway's to write: the other services' roles may only read it.

deploy/sql/roles.sql gives every service's role write access to the tables of `events` (its
default privileges reach this table too); a compromised domain service must not be able to
un-revoke a disabled account. Roles that do not exist (a development database) are skipped.

Revision ID: e0004
Revises: e0003
Create Date: 2026-12-01 23:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "e0004"
down_revision: str | None = "e0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READERS = ("sprout_selection", "sprout_mentoring", "sprout_courses", "sprout_tracking")


def _for_each_reader(statement: str) -> None:
    """Run `statement` (its `%I` naming the role) for each reader role that exists."""
    roles = ", ".join(f"'{r}'" for r in READERS)
    op.execute(
        f"""
        DO $$
        DECLARE role_name text;
        BEGIN
            FOR role_name IN SELECT rolname FROM pg_roles WHERE rolname IN ({roles}) LOOP
                EXECUTE format('{statement}', role_name);
            END LOOP;
        END $$;
        """
    )


def upgrade() -> None:
    _for_each_reader("REVOKE INSERT, UPDATE, DELETE ON events.revocation FROM %I")


def downgrade() -> None:
    _for_each_reader("GRANT INSERT, UPDATE, DELETE ON events.revocation TO %I")

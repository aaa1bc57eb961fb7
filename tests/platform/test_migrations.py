"""`migrate` on the real database: a failing migration shows its own error, stores nothing and frees the lock."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest

from shared.migrations import MIGRATION_LOCK_ID, MigrationTree, migrate
from tests.events.support import scalar, unique

ENV = """\
from sqlalchemy import MetaData

from shared.migrations import run_env

run_env(MetaData(), {schema!r})
"""

REVISION = '''\
"""{doc}

Revision ID: {revision}
Revises:
Create Date: 2026-12-01 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("campaign", sa.Column("id", sa.Integer(), primary_key=True), schema={schema!r})
{body}


def downgrade() -> None:
    pass
'''


def write_tree(root: Path, schema: str, body: str, doc: str = "A revision under test.") -> MigrationTree:
    """A real alembic tree in `root` for `schema`: one revision that creates a table, then runs `body`."""
    versions = root / "versions"
    versions.mkdir(parents=True)
    (root / "env.py").write_text(ENV.format(schema=schema))
    (versions / "2026-12-01-0000_under_test.py").write_text(
        REVISION.format(doc=doc, revision=f"{schema}_1", schema=schema, body=textwrap.indent(body, "    "))
    )
    return MigrationTree(schema, root)


async def _schema_exists(engine, schema: str) -> bool:
    return bool(await scalar(engine, "SELECT count(*) FROM pg_namespace WHERE nspname = :s", s=schema))


async def _lock_holders(engine) -> int:
    # An advisory lock on a bigint key shows its high and low halves as classid and objid; other
    # databases on this server (other test runs) migrate under the same key, so only ours counts.
    return await scalar(
        engine,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
        " AND classid = :hi AND objid = :lo"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        hi=MIGRATION_LOCK_ID >> 32, lo=MIGRATION_LOCK_ID & 0xFFFF_FFFF,
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('op.execute("INSERT INTO no_such_table VALUES (1)")', 'relation "no_such_table" does not exist'),
        ('raise RuntimeError("the rubric table needs a default weight")', "the rubric table needs a default weight"),
    ],
    ids=["bad_sql", "raises"],
)
async def test_a_failing_migration_shows_its_own_error_stores_nothing_and_releases_the_lock(
    engine, database_url, tmp_path, body, expected
):
    good = write_tree(tmp_path / "good", unique("mig_good"), "pass")
    broken = write_tree(tmp_path / "broken", unique("mig_broken"), body)

    with pytest.raises(Exception) as failure:
        await migrate(database_url, [good, broken])

    # What the operator reads is the migration's own error, not a follow-on one.
    assert expected in str(failure.value)
    assert "current transaction is aborted" not in str(failure.value)
    # The tree before it is kept; of the failing one nothing is stored, not even its schema.
    assert await scalar(engine, f'SELECT count(*) FROM "{good.schema}".alembic_version') == 1
    assert not await _schema_exists(engine, broken.schema)
    # The lock went with the failure: the next run (say, with the revision fixed) is not kept waiting.
    assert await _lock_holders(engine) == 0
    fixed = write_tree(tmp_path / "fixed", broken.schema, "pass")
    await asyncio.wait_for(migrate(database_url, [good, fixed]), timeout=60)
    assert await scalar(engine, f'SELECT version_num FROM "{broken.schema}".alembic_version') == f"{broken.schema}_1"

"""Alembic, one tree per schema: the env.py body every tree shares, and `migrate` over all of them.

Each tree keeps its version table inside its own schema. `migrate` holds a PostgreSQL
advisory lock for the whole run, so two processes migrating at once take turns and the
second finds nothing left to do. Each tree commits on its own: when one fails, the trees
before it stay migrated, the failing one is rolled back whole, and its own error is raised.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from shared.db import create_engine

log = logging.getLogger(__name__)

# Any constant will do, as long as every migrating process uses the same one.
MIGRATION_LOCK_ID = 0x5350_524F_5554  # "SPROUT"

VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class MigrationTree:
    schema: str
    path: Path

    def config(self, connection: Connection | None = None) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(self.path))
        cfg.set_main_option("file_template", "%%(year)d-%%(month).2d-%%(day).2d-%%(hour).2d%%(minute).2d_%%(slug)s")
        cfg.set_main_option("timezone", "UTC")
        cfg.attributes["schema"] = self.schema
        if connection is not None:
            cfg.attributes["connection"] = connection
        return cfg

    def heads(self) -> set[str]:
        return set(ScriptDirectory.from_config(self.config()).get_heads())


def run_env(target_metadata: MetaData, schema: str) -> None:
    """The body of every tree's env.py: migrate `schema` on the connection `migrate` handed over."""
    from alembic import context

    connection: Connection | None = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations with `sprout migrate`, which supplies the connection")

    def include_name(name, type_, parent_names):
        if type_ == "schema":
            return name == schema
        return True

    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        version_table_schema=schema,
        include_schemas=True,
        include_name=include_name,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _upgrade_all(connection: Connection, trees: list[MigrationTree]) -> None:
    connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    try:
        for tree in trees:
            command.upgrade(tree.config(connection), "head")
            # Alembic's transaction is nested in ours; commit each tree so a later failure keeps earlier ones.
            connection.commit()
    except BaseException:
        # Roll the failing tree back before unlocking: committing here would keep its half-done
        # work, and after an SQL error the unlock would fail on the aborted transaction and
        # hide the migration's own error. The lock belongs to the session, so it survives.
        try:
            connection.rollback()
            _unlock(connection)
        except Exception:
            # The error worth reading is the one in flight. `migrate` disposes of the
            # connection, and the session lock ends with it.
            log.warning("could not release the migration lock after a failed migration", exc_info=True)
        raise
    _unlock(connection)


def _unlock(connection: Connection) -> None:
    connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
    connection.commit()


async def migrate(url: str, trees: list[MigrationTree]) -> None:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_upgrade_all, trees)
    finally:
        await engine.dispose()


def _current(connection: Connection, schema: str) -> set[str]:
    ctx = MigrationContext.configure(
        connection, opts={"version_table": VERSION_TABLE, "version_table_schema": schema}
    )
    return set(ctx.get_current_heads())


@cache
def _known_revisions(tree: MigrationTree) -> frozenset[str]:
    return frozenset(r.revision for r in ScriptDirectory.from_config(tree.config()).walk_revisions())


async def behind(conn, trees: list[MigrationTree], heads: dict[str, set[str]]) -> list[str]:
    """Schemas that lack migrations this code expects.

    A schema *ahead* of the code (a revision this code does not know) counts as ready: during
    a rolling release the migration job runs first, and the previous release's pods must stay
    in service until they are replaced. That is safe because migrations are written
    expand-then-contract: a release never drops what the one before it still uses.
    """
    out = []
    for tree in trees:
        current = await conn.run_sync(_current, tree.schema)
        if current == heads[tree.schema]:
            continue
        if current and not current <= _known_revisions(tree):
            continue
        out.append(tree.schema)
    return out

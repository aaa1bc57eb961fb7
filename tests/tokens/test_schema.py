"""The migrated token and limit tables are the ones the models declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from services.gateway.db import SCHEMA, Base
from services.gateway.identity import models as _identity  # noqa: F401  (the tables ours refer to)
from services.gateway.limits import models as _limits  # noqa: F401
from services.gateway.tokens import models as _tokens  # noqa: F401

OURS = {"signing_key", "client", "refresh_token", "login_throttle"}


def _ours(obj, name, type_, reflected, compare_to) -> bool:
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return table is None or table.name in OURS


def _differences(connection) -> list:
    context = MigrationContext.configure(
        connection,
        opts={
            "include_schemas": True,
            "include_name": lambda name, type_, parent: type_ != "schema" or name == SCHEMA,
            "include_object": _ours,
            "version_table": "alembic_version",
            "version_table_schema": SCHEMA,
            "compare_type": True,
        },
    )
    return compare_metadata(context, Base.metadata)


async def test_the_migration_creates_what_the_models_declare(engine):
    async with engine.connect() as conn:
        assert await conn.run_sync(_differences) == []

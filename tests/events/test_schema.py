"""The migrated `events` schema is the one the models declare, trigger and claim function included."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from shared.events.models import SCHEMA, metadata


def _differences(connection) -> list:
    context = MigrationContext.configure(
        connection,
        opts={
            "include_schemas": True,
            "include_name": lambda name, type_, parent: type_ != "schema" or name == SCHEMA,
            "version_table": "alembic_version",
            "version_table_schema": SCHEMA,
            "compare_type": True,
        },
    )
    return compare_metadata(context, metadata)


async def test_the_migration_creates_what_the_models_declare(engine):
    async with engine.connect() as conn:
        assert await conn.run_sync(_differences) == []
        triggers = (
            await conn.execute(
                text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'events.delivery'::regclass AND NOT tgisinternal")
            )
        ).scalars().all()
        functions = (
            await conn.execute(text("SELECT proname FROM pg_proc WHERE pronamespace = 'events'::regnamespace ORDER BY 1"))
        ).scalars().all()
    assert triggers == ["delivery_notify"]
    assert functions == ["claim_deliveries", "notify_delivery", "notify_revocation"]

"""What alembic would still autogenerate for one service's schema after its migrations ran: nothing, when they match the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine


async def schema_diff(engine: AsyncEngine, metadata: MetaData, schema: str) -> list:
    def include_name(name, type_, parent_names):
        if type_ == "schema":
            return name == schema
        return not (type_ == "table" and name == "alembic_version")

    def run(connection):
        context = MigrationContext.configure(
            connection,
            opts={"include_schemas": True, "include_name": include_name, "compare_type": True, "target_metadata": metadata},
        )
        return compare_metadata(context, metadata)

    async with engine.connect() as conn:
        return await conn.run_sync(run)

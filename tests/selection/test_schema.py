"""The migrated selection schema is exactly what the models, the record chain and the conflict table declare."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from services.selection import models as _models  # noqa: F401
from services.selection.panels import models as _panels  # noqa: F401
from services.selection.results import models as _results  # noqa: F401
from services.selection.db import SCHEMA, Base


def _diff(connection):
    def include_name(name, type_, parent_names):
        if type_ == "schema":
            return name == SCHEMA
        return not (type_ == "table" and name == "alembic_version")

    context = MigrationContext.configure(
        connection,
        opts={"include_schemas": True, "include_name": include_name, "compare_type": True, "target_metadata": Base.metadata},
    )
    return compare_metadata(context, Base.metadata)


async def test_migrations_match_the_models(engine):
    async with engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    assert diff == [], diff

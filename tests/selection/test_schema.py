"""The migrated selection schema is exactly what the models, the record chain and the conflict table declare."""

from services.selection import models as _models  # noqa: F401
from services.selection.panels import models as _panels  # noqa: F401
from services.selection.results import models as _results  # noqa: F401
from services.selection.db import SCHEMA, Base
from tests.schema_support import schema_diff


async def test_migrations_match_the_models(engine):
    diff = await schema_diff(engine, Base.metadata, SCHEMA)
    assert diff == [], diff

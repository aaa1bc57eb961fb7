"""The migrated courses schema is exactly what the models and the record chain declare."""

from services.courses import models as _models  # noqa: F401
from services.courses.applications import models as _applications  # noqa: F401
from services.courses.registration import models as _registration  # noqa: F401
from services.courses.results import models as _results  # noqa: F401
from services.courses.db import SCHEMA, Base
from tests.schema_support import schema_diff


async def test_migrations_match_the_models(engine):
    diff = await schema_diff(engine, Base.metadata, SCHEMA)
    assert diff == [], diff

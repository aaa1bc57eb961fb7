"""The migrated tracking schema is exactly what the models declare."""

from services.tracking.db import SCHEMA, Base
from services.tracking.enrolment import models as _enrolment  # noqa: F401
from services.tracking.timeline import models as _timeline  # noqa: F401
from tests.schema_support import schema_diff


async def test_migrations_match_the_models(engine):
    diff = await schema_diff(engine, Base.metadata, SCHEMA)
    assert diff == [], diff

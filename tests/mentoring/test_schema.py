"""The migrated mentoring schema is exactly what the models, the record chain and the conflict table declare."""

from services.mentoring import models as _models  # noqa: F401
from services.mentoring.runs import models as _runs  # noqa: F401
from services.mentoring.mentorships import models as _mentorships  # noqa: F401
from services.mentoring.projects import models as _projects  # noqa: F401
from services.mentoring.lectures import models as _lectures  # noqa: F401
from services.mentoring.db import SCHEMA, Base
from tests.schema_support import schema_diff


async def test_migrations_match_the_models(engine):
    diff = await schema_diff(engine, Base.metadata, SCHEMA)
    assert diff == [], diff

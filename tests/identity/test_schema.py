"""The migrated gateway schema is exactly what the models declare (alembic finds nothing to autogenerate)."""

from services.gateway.consent import models as _consent  # noqa: F401
from services.gateway.db import SCHEMA, Base
from services.gateway.identity import models as _identity  # noqa: F401
from tests.schema_support import schema_diff


async def test_migrations_match_the_models(engine):
    diff = await schema_diff(engine, Base.metadata, SCHEMA)
    assert diff == [], diff


async def test_the_database_accepts_exactly_the_roles_a_person_may_hold(engine):
    import re

    from sqlalchemy import text

    from shared.auth import USER_ROLES

    async with engine.connect() as conn:
        definition = await conn.scalar(
            text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conname = 'ck_user_account_roles_known' AND connamespace = 'gateway'::regnamespace"
            )
        )
    assert set(re.findall(r"'(\w+)'", definition)) == set(USER_ROLES)
    # "service" is a machine client's role, never a person's.
    assert "service" not in USER_ROLES

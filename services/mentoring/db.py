"""The mentoring schema: the declarative base every model of this service derives from."""

from shared.db import declarative_base
from shared.directory import Directory
from shared.idempotency import idempotency_table

SCHEMA = "mentoring"

Base = declarative_base(SCHEMA)
idempotency_keys = idempotency_table(Base.metadata)
# Who is who, as the gateway publishes it (shared/directory/).
directory = Directory(SCHEMA, Base.metadata)

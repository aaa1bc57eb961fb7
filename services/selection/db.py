"""The selection schema: the declarative base every model of this service derives from."""

from shared.db import declarative_base
from shared.idempotency import idempotency_table

SCHEMA = "selection"

Base = declarative_base(SCHEMA)
idempotency_keys = idempotency_table(Base.metadata)

"""The courses schema: the declarative base every model of this service derives from."""

from shared.chain import Chain
from shared.db import declarative_base
from shared.directory import Directory
from shared.idempotency import idempotency_table

SCHEMA = "courses"

Base = declarative_base(SCHEMA)
idempotency_keys = idempotency_table(Base.metadata)
# Who is who, as the gateway publishes it (shared/directory/).
directory = Directory(SCHEMA, Base.metadata)
# The tamper-evident record of the catalogue, registrations, results, exemptions and grade skips (shared/chain.py).
chain = Chain(SCHEMA, Base.metadata)

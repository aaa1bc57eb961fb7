"""The mentoring schema: the declarative base every model of this service derives from."""

from shared.chain import Chain
from shared.conflicts import Conflicts
from shared.db import declarative_base
from shared.directory import Directory
from shared.idempotency import idempotency_table

SCHEMA = "mentoring"

Base = declarative_base(SCHEMA)
idempotency_keys = idempotency_table(Base.metadata)
# Who is who, as the gateway publishes it (shared/directory/).
directory = Directory(SCHEMA, Base.metadata)
# The tamper-evident record of registrations, runs, forced and banned pairs, publications (shared/chain.py).
chain = Chain(SCHEMA, Base.metadata)
# Mentors' conflicts of interest with students (shared/conflicts.py): a relative, their own current teacher.
conflicts = Conflicts(SCHEMA, Base.metadata, directory)

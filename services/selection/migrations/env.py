from services.selection import models as _models  # noqa: F401  (registers the tables)
from services.selection.db import SCHEMA, Base
from shared.migrations import run_env

run_env(Base.metadata, SCHEMA)

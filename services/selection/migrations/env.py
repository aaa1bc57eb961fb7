from services.selection import models as _models  # noqa: F401  (registers the tables)
from services.selection.panels import models as _panels  # noqa: F401
from services.selection.results import models as _results  # noqa: F401
from services.selection.db import SCHEMA, Base
from shared.migrations import run_env

run_env(Base.metadata, SCHEMA)

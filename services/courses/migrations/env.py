from services.courses import models as _models  # noqa: F401  (registers the tables)
from services.courses.applications import models as _applications  # noqa: F401
from services.courses.registration import models as _registration  # noqa: F401
from services.courses.results import models as _results  # noqa: F401
from services.courses.db import SCHEMA, Base
from shared.migrations import run_env

run_env(Base.metadata, SCHEMA)

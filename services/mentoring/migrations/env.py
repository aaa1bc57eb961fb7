from services.mentoring import models as _models  # noqa: F401  (registers the tables)
from services.mentoring.runs import models as _runs  # noqa: F401
from services.mentoring.mentorships import models as _mentorships  # noqa: F401
from services.mentoring.projects import models as _projects  # noqa: F401
from services.mentoring.lectures import models as _lectures  # noqa: F401
from services.mentoring.db import SCHEMA, Base
from shared.migrations import run_env

run_env(Base.metadata, SCHEMA)

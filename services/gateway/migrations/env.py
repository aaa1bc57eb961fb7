from services.gateway.db import SCHEMA, Base
from services.gateway.identity import models as _identity_models  # noqa: F401  (registers the tables)
from services.gateway.consent import models as _consent_models  # noqa: F401
from services.gateway.limits import models as _limits_models  # noqa: F401
from services.gateway.tokens import models as _tokens_models  # noqa: F401
from shared.migrations import run_env

run_env(Base.metadata, SCHEMA)

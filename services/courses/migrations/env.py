from services.courses.db import SCHEMA, Base
from shared.migrations import run_env

run_env(Base.metadata, SCHEMA)

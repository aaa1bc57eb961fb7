from shared.migrations import run_env
from tests.platform.sample_service.app import SCHEMA, Base

run_env(Base.metadata, SCHEMA)

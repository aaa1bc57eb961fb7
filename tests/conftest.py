"""Test fixtures: one real, migrated PostgreSQL database per test run (per xdist worker).

With SPROUT_DATABASE_URL set, the run creates its database on that server; otherwise on
an embedded server kept in the system temp folder between runs (initdb happens once).
Each test gets a session inside a transaction that is rolled back; tests of the event bus,
which need real commits, use `engine` directly and keep to their own consumer names.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.cli import migration_trees
from shared.db import async_url, create_engine, get_session
from shared.migrations import migrate

ROOT = Path(__file__).resolve().parent.parent
TEST_PGDATA = Path(tempfile.gettempdir()) / f"sprout-test-pgdata-{os.getuid()}"


def _server_url() -> str:
    configured = os.environ.get("SPROUT_DATABASE_URL")
    if configured:
        return async_url(configured)
    from shared.embedded import ensure_embedded

    return ensure_embedded(TEST_PGDATA, database="postgres")


async def _admin(server_url: str, sql: str) -> None:
    engine = create_engine(server_url, pool_size=1, max_overflow=0, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def _drop_abandoned_databases(server_url: str) -> None:
    """Drop test databases left by runs that were killed before their teardown (on this host)."""
    host = make_url(server_url).host
    if host not in (None, "", "localhost", "127.0.0.1", "::1"):
        return  # a server other hosts may share: their pids mean nothing here
    engine = create_engine(server_url, pool_size=1, max_overflow=0, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            names = (
                await conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE 'sprout\\_test\\_%'"))
            ).scalars().all()
            for name in names:
                parts = name.split("_")
                pid = int(parts[-2]) if len(parts) >= 5 and parts[-2].isdigit() else None
                if pid is None or _alive(pid):
                    continue
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def server_url() -> str:
    return _server_url()


@asynccontextmanager
async def fresh_database(server_url: str, worker_id: str) -> AsyncIterator[str]:
    """A new database on `server_url`, migrated to head, dropped when the block ends; yields its URL."""
    await _drop_abandoned_databases(server_url)
    # The pid in the name lets a later run tell a database whose run died from one in use.
    name = f"sprout_test_{worker_id}_{os.getpid()}_{secrets.token_hex(4)}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    try:
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        await migrate(url, migration_trees())
        yield url
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
async def database_url(server_url: str, worker_id: str) -> AsyncIterator[str]:
    """A fresh database for this run, migrated to head, dropped afterwards."""
    async with fresh_database(server_url, worker_id) as url:
        # Children (service processes started by tests) find the same database.
        os.environ["SPROUT_TEST_DATABASE_URL"] = url
        yield url


@pytest.fixture(scope="session")
def worker_id(request) -> str:
    # pytest-xdist provides this fixture too; this fallback covers plain runs.
    return getattr(request.config, "workerinput", {}).get("workerid", "main")


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(database_url, pool_size=5, max_overflow=10)
    yield eng
    await eng.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session whose every write is rolled back at the end of the test (commits become savepoints)."""
    async with engine.connect() as conn:
        trans = await conn.begin()
        factory = async_sessionmaker(
            bind=conn, expire_on_commit=False, autoflush=False, join_transaction_mode="create_savepoint"
        )
        async with factory() as s:
            yield s
        await trans.rollback()


@asynccontextmanager
async def running_app(app, session: AsyncSession | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan and talk to it in-process; with `session`, requests share the test's transaction."""
    if session is not None:

        async def _test_session() -> AsyncIterator[AsyncSession]:
            yield session
            await session.flush()

        app.dependency_overrides[get_session] = _test_session
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def service_settings(settings_cls, database_url: str, **overrides):
    # One service alone has no gateway to load its directory from (tests/directory/ test that).
    overrides.setdefault("directory_bootstrap", False)
    return settings_cls(database_url=database_url, env="test", log_json=True, **overrides)

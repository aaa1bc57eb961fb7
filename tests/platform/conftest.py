"""Fixtures of the platform tests: the five real services, and the test-only sample service."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import import_module

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.cli import SERVICES
from shared.migrations import migrate
from tests.conftest import running_app
from tests.platform.sample_service.app import SAMPLE_TREE, SampleSettings, create_app

SERVICE_NAMES = list(SERVICES)
PROBLEM_FIELDS = {"type", "title", "status", "detail", "code", "instance", "request_id"}
# Small, so the over-the-limit bodies of the tests stay small.
SAMPLE_MAX_BYTES = 4096


def service_app(name: str, database_url: str, **overrides) -> FastAPI:
    """The real app of service `name`, built by its own factory with its own settings class."""
    module = import_module(f"services.{name}.app")
    settings_module = import_module(f"services.{name}.settings")
    settings_cls = next(
        v
        for k, v in vars(settings_module).items()
        if k.endswith("Settings") and getattr(v, "service_name", None) == name
    )
    # The directory's first load needs a gateway (tests/directory/ test it); the platform's
    # tests run one service alone.
    overrides.setdefault("directory_bootstrap", False)
    settings = settings_cls(database_url=database_url, env="test", log_json=True, **overrides)
    return module.create_app(settings)


def sample_settings(database_url: str, **overrides) -> SampleSettings:
    return SampleSettings(
        database_url=database_url, env="test", log_json=True, request_max_bytes=SAMPLE_MAX_BYTES, **overrides
    )


@dataclass
class Running:
    app: FastAPI
    client: httpx.AsyncClient


@asynccontextmanager
async def running_sample(
    database_url: str, session: AsyncSession | None = None, **app_kwargs
) -> AsyncIterator[Running]:
    app = create_app(sample_settings(database_url), **app_kwargs)
    async with running_app(app, session) as client:
        yield Running(app, client)


@pytest.fixture(scope="session")
async def sample_database_url(database_url: str) -> str:
    """The run's database with the sample service's schema migrated too."""
    await migrate(database_url, [SAMPLE_TREE])
    return database_url


@pytest.fixture
async def sample(sample_database_url: str, session: AsyncSession) -> AsyncIterator[httpx.AsyncClient]:
    """The sample service, its requests inside the test's rolled-back transaction."""
    async with running_sample(sample_database_url, session) as running:
        yield running.client


@pytest.fixture
async def sample_committed(sample_database_url: str) -> AsyncIterator[Running]:
    """The sample service with its own engine: every request commits for real."""
    async with running_sample(sample_database_url) as running:
        yield running


@pytest.fixture(params=SERVICE_NAMES)
async def service(request, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """Each of the five real services in turn."""
    async with running_app(service_app(request.param, database_url)) as client:
        yield client


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on a free loopback port in this event loop; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, timeout_graceful_shutdown=5))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(250):
            if server.started or task.done():
                break
            await asyncio.sleep(0.02)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_problem(r: httpx.Response, status: int, code: str) -> dict:
    """`r` is an RFC 9457 problem with every field a frontend relies on; returns its body."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json", r.headers
    body = r.json()
    assert PROBLEM_FIELDS <= body.keys(), body
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(f"/{code}")
    assert body["title"] and body["detail"]
    assert body["request_id"] == r.headers["x-request-id"]
    return body

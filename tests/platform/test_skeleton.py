"""The skeleton every service shares: probes, problem+json, request ids."""

import pytest

from services.courses.app import create_app as courses_app
from services.courses.settings import CoursesSettings
from tests.conftest import running_app, service_settings


@pytest.fixture
async def courses(database_url):
    async with running_app(courses_app(service_settings(CoursesSettings, database_url))) as client:
        yield client


async def test_readyz_reports_database_and_migrations(courses):
    r = await courses.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "service": "courses", "checks": {"database": "ok", "migrations": "ok"}}


async def test_unknown_route_is_a_problem(courses):
    r = await courses.get("/no/such/thing")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "not_found"

"""Production refuses the development defaults, and says which setting is missing."""

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from services.courses.app import create_app as courses_app
from services.courses.settings import CoursesSettings
from tests.conftest import ROOT, running_app
from tests.platform.conftest import free_port

MESSAGE = "SPROUT_ENV=production refuses development defaults; set: SPROUT_DATABASE_URL"


def test_production_without_a_database_url_is_refused(monkeypatch):
    monkeypatch.setenv("SPROUT_ENV", "production")
    monkeypatch.delenv("SPROUT_DATABASE_URL", raising=False)
    with pytest.raises(ValidationError) as caught:
        CoursesSettings()
    assert MESSAGE in str(caught.value)


def test_sprout_serve_in_production_without_a_database_url_exits_with_the_reason(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPROUT_")}
    env.update(SPROUT_ENV="production", SPROUT_DATA_DIR=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "-m", "services.cli", "serve", "courses", "--port", str(free_port())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0
    assert MESSAGE in proc.stdout + proc.stderr
    # It refused before touching anything: no embedded database was started in its data dir.
    assert not (tmp_path / "pgdata").exists()


async def test_production_with_a_database_url_starts_and_is_ready(monkeypatch, database_url):
    monkeypatch.setenv("SPROUT_ENV", "production")
    monkeypatch.setenv("SPROUT_DATABASE_URL", database_url)
    # Alone, without a gateway to load the directory from (tests/directory/ test that load).
    monkeypatch.setenv("SPROUT_DIRECTORY_BOOTSTRAP", "false")
    settings = CoursesSettings()
    assert settings.env == "production"
    async with running_app(courses_app(settings)) as client:
        r = await client.get("/readyz")
        assert r.status_code == 200, r.text


def test_development_and_test_may_use_the_embedded_database(monkeypatch):
    monkeypatch.delenv("SPROUT_DATABASE_URL", raising=False)
    for env in ("development", "test"):
        monkeypatch.setenv("SPROUT_ENV", env)
        assert CoursesSettings().database_url is None


def test_sprout_serve_in_production_without_a_database_says_why_in_one_line(monkeypatch, capsys):
    from services.cli import main

    monkeypatch.setenv("SPROUT_ENV", "production")
    monkeypatch.delenv("SPROUT_DATABASE_URL", raising=False)
    assert main(["serve", "courses"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sprout serve courses: refusing to start:")
    assert "SPROUT_DATABASE_URL" in err and "Traceback" not in err and "\n" not in err

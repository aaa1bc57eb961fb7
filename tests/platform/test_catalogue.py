"""The catalogue of problem codes: the platform's in shared/catalogue/, each service's in its own module, one meaning per code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from services.cli import SERVICES
from shared import catalogue
from shared.catalogue import CATALOGUE, DuplicateCode, codes, define, entry, owner_of, unregister
from shared.problems import ProblemError

ROOT = Path(__file__).resolve().parents[2]
THROWAWAY = "catalogue_test_only_code"


@pytest.fixture
def throwaway():
    yield THROWAWAY
    unregister(THROWAWAY)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_service_has_its_own_catalogue_module(service):
    module = ROOT / "shared" / "catalogue" / f"{service}.py"
    assert module.is_file(), f"{service} has no shared/catalogue/{service}.py"
    assert f"shared.catalogue.{service}" in sys.modules  # imported with the package


def test_the_platform_keeps_its_codes_and_the_gateway_its_own():
    assert owner_of("payload_too_large") == "shared.catalogue"
    assert owner_of("invalid_cursor") == "shared.catalogue"
    assert owner_of("consent_required") == "shared.catalogue"
    assert owner_of("username_taken") == "shared.catalogue.gateway"
    assert owner_of("service_unavailable") == "shared.catalogue.gateway"
    assert entry("username_taken") is CATALOGUE["username_taken"]


def test_a_service_module_registers_a_code_that_problems_then_answer_with(throwaway):
    codes({throwaway: define(409, "Taken", "已占用", "{what} is taken.", "{what}已被占用。")}, owner="tests.selection")
    problem = ProblemError(throwaway, what="The slot")
    assert (problem.status, owner_of(throwaway)) == (409, "tests.selection")
    # The same module loading again (a reload) is no conflict.
    codes({throwaway: define(409, "Taken", "已占用", "{what} is taken.", "{what}已被占用。")}, owner="tests.selection")


def test_a_code_another_module_registered_is_refused_naming_both(throwaway):
    codes({throwaway: define(409, "Taken", "已占用", "Taken.", "已占用。")}, owner="tests.selection")
    with pytest.raises(DuplicateCode) as refused:
        codes({throwaway: define(422, "Other", "其他", "Other.", "其他。")}, owner="tests.courses")
    assert "tests.selection" in str(refused.value) and "tests.courses" in str(refused.value)
    with pytest.raises(DuplicateCode):
        codes({"username_taken": define(409, "Taken", "已占用", "Taken.", "已占用。")}, owner="tests.courses")
    assert owner_of(throwaway) == "tests.selection" and CATALOGUE[throwaway].status == 409
    assert owner_of("username_taken") == "shared.catalogue.gateway"


@pytest.mark.parametrize(
    "code, status", [("Bad-Code", 409), ("x", 409), ("fine_code", 200), ("fine_code", 600)]
)
def test_a_malformed_code_or_status_is_refused(code, status):
    with pytest.raises(ValueError):
        codes({code: define(status, "T", "标题", "M.", "说明。")}, owner="tests")
    assert code not in CATALOGUE


def test_a_service_module_colliding_with_another_stops_the_import(tmp_path):
    """A new module in the package that reuses a code fails the package's import, with both names."""
    package = tmp_path / "shared" / "catalogue"
    package.mkdir(parents=True)
    (tmp_path / "shared" / "__init__.py").write_text("")
    for source in (ROOT / "shared" / "catalogue").glob("*.py"):
        (package / source.name).write_bytes(source.read_bytes())
    (package / "courses.py").write_text(
        "from shared.catalogue import codes, define\n"
        "codes({'school_not_found': define(404, 'No school', '无学校', 'No school.', '无学校。')})\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", "import shared.catalogue"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode != 0
    assert "school_not_found" in done.stderr and "shared.catalogue.gateway" in done.stderr
    assert "shared.catalogue.courses" in done.stderr


def test_the_package_still_answers_the_old_imports():
    assert catalogue.CATALOGUE is CATALOGUE and catalogue.Entry is type(CATALOGUE["not_found"])

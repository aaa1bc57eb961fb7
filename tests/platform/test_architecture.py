"""The architecture holds: import-linter's contracts are kept, and the repository has its agreed shape."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from services.cli import SERVICES

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT_TEXT = (ROOT / "pyproject.toml").read_text()
CONTRACTS = {c["name"]: c for c in tomllib.loads(PYPROJECT_TEXT)["tool"]["importlinter"]["contracts"]}
INDEPENDENCE = "Services do not import each other"
SHARED_FORBIDDEN = "shared imports no service"


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    """import-linter from this interpreter's environment, on the packages under `cwd`."""
    lint = Path(sys.executable).parent / "lint-imports"
    return subprocess.run(
        [str(lint), "--no-cache", "--no-logo"],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(cwd)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_import_contracts_are_kept():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(CONTRACTS)} kept, 0 broken" in result.stdout, result.stdout


def test_the_contracts_cover_every_service():
    assert CONTRACTS[INDEPENDENCE]["type"] == "independence"
    # A sixth service must join the contract the day it is registered with the CLI.
    assert set(CONTRACTS[INDEPENDENCE]["modules"]) == {f"services.{name}" for name in SERVICES}
    assert CONTRACTS[SHARED_FORBIDDEN]["type"] == "forbidden"
    assert CONTRACTS[SHARED_FORBIDDEN]["source_modules"] == ["shared"]
    assert CONTRACTS[SHARED_FORBIDDEN]["forbidden_modules"] == ["services"]


def test_the_contracts_catch_a_service_importing_another(tmp_path):
    # The same configuration on a throwaway tree that breaks both rules: proof the check can fail.
    (tmp_path / "pyproject.toml").write_text(PYPROJECT_TEXT)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "__init__.py").write_text("")
    (tmp_path / "shared" / "leak.py").write_text("import services.courses\n")
    (tmp_path / "services").mkdir()
    (tmp_path / "services" / "__init__.py").write_text("")
    for name in SERVICES:
        (tmp_path / "services" / name).mkdir()
        (tmp_path / "services" / name / "__init__.py").write_text("")
    (tmp_path / "services" / "courses" / "app.py").write_text("from services.selection import something\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert f"{INDEPENDENCE} BROKEN" in result.stdout, result.stdout
    assert f"{SHARED_FORBIDDEN} BROKEN" in result.stdout, result.stdout


def test_the_repository_has_its_agreed_layout():
    for name in SERVICES:
        assert (ROOT / "services" / name / "app.py").is_file(), name
    # Every service folder is known to `sprout`, so none is left out of `sprout up` or the image.
    folders = {p.parent.name for p in (ROOT / "services").glob("*/app.py")}
    assert folders == set(SERVICES)
    for path in ("shared/__init__.py", "deploy/Dockerfile", "deploy/k8s", "docker-compose.yml", "README.md", "tasks.py"):
        assert (ROOT / path).exists(), path


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line.strip() for line in ci.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert any(line.endswith("python3 tasks.py test") for line in commands), ci
    assert "python3 tasks.py test" in (ROOT / "README.md").read_text()

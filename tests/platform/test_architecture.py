"""The architecture holds: no service imports another and `shared` imports none (import-linter), every service folder runs under `sprout`, and CI runs the README's test command."""

from __future__ import annotations

import importlib
import os
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fastapi import FastAPI

from services.cli import SERVICES, build_parser

ROOT = Path(__file__).resolve().parents[2]


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    """import-linter from this interpreter's environment, with the repository's contracts, on the packages under `cwd`."""
    lint = Path(sys.executable).parent / "lint-imports"
    return subprocess.run(
        [str(lint), "--no-cache", "--no-logo"],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(cwd)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_repository_keeps_the_import_contracts():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout


def test_the_contracts_catch_any_service_importing_any_other_and_shared_importing_a_service(tmp_path):
    """On a throwaway tree with the repository's pyproject: each service imports the next (a ring),
    and `shared` imports each service. Every one of those imports must be reported, so a service
    registered with `sprout` but left out of the contract fails here."""
    (tmp_path / "pyproject.toml").write_bytes((ROOT / "pyproject.toml").read_bytes())
    names = list(SERVICES)
    for package in ("shared", "services", *(f"services/{n}" for n in names)):
        (tmp_path / package).mkdir(parents=True, exist_ok=True)
        (tmp_path / package / "__init__.py").write_text("")
    for name, other in zip(names, names[1:] + names[:1]):
        (tmp_path / "services" / name / "app.py").write_text(f"import services.{other}\n")
    (tmp_path / "shared" / "leak.py").write_text("".join(f"import services.{n}\n" for n in names))

    result = lint_imports(tmp_path)
    assert result.returncode != 0
    for name, other in zip(names, names[1:] + names[:1]):
        assert f"services.{name} is not allowed to import services.{other}" in result.stdout, result.stdout
    for name in names:
        assert f"shared.leak -> services.{name} " in result.stdout, result.stdout


@pytest.mark.parametrize("folder", sorted(p.parent.name for p in (ROOT / "services").glob("*/app.py")))
def test_every_service_folder_is_one_sprout_serves(folder):
    # `sprout serve <folder>` parses, and the import string it would start builds that folder's app.
    args = build_parser().parse_args(["serve", folder])
    module_name, _, factory = SERVICES[args.name].app.partition(":")
    module = importlib.import_module(module_name)
    assert Path(module.__file__).resolve() == ROOT / "services" / folder / "app.py"
    settings_module = importlib.import_module(f"services.{folder}.settings")
    settings_cls = next(v for k, v in vars(settings_module).items() if k.endswith("Settings") and getattr(v, "service_name", None) == folder)
    app = getattr(module, factory)(settings_cls(env="test", events_enabled=False))
    assert isinstance(app, FastAPI) and app.state.service_name == folder
    consumers_module, _, attribute = SERVICES[args.name].consumers.partition(":")
    assert isinstance(getattr(importlib.import_module(consumers_module), attribute), (list, tuple))


def test_every_registered_service_has_its_folder():
    for name in SERVICES:
        assert (ROOT / "services" / name / "app.py").is_file(), name


def test_ci_runs_exactly_the_readmes_test_command(tmp_path):
    """Run .ci/run with a `python3` on PATH that records how it was called, instead of running the suite."""
    calls = tmp_path / "calls"
    shim = tmp_path / "bin" / "python3"
    shim.parent.mkdir()
    shim.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        printf '%s\\n' "$PWD" "$@" > {shlex.quote(str(calls))}
        """))
    shim.chmod(0o755)
    done = subprocess.run(
        [str(ROOT / ".ci" / "run")], env={**os.environ, "PATH": f"{shim.parent}{os.pathsep}{os.environ['PATH']}"},
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    cwd, *argv = calls.read_text().splitlines()
    assert Path(cwd).resolve() == ROOT
    assert ["python3", *argv] == shlex.split(_readme_test_command())


def _readme_test_command() -> str:
    """The command the README's "Test it" section shows (its first indented line)."""
    section = (ROOT / "README.md").read_text().split("\n## Test it\n", 1)[1].split("\n## ", 1)[0]
    return next(line.strip() for line in section.splitlines() if line.startswith("    "))

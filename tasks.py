#!/usr/bin/env python3
"""The two commands: `python3 tasks.py run` and `python3 tasks.py test`.

Needs nothing but Python 3.11+: it makes its own virtual environment in .venv, installs
the project there (pinned by constraints.txt), and runs the system or its tests.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("SPROUT_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".sprout-installed"


def _fingerprint() -> str:
    h = hashlib.sha256()
    for name in ("pyproject.toml", "constraints.txt"):
        p = ROOT / name
        if p.exists():
            h.update(p.read_bytes())
    return h.hexdigest()


def ensure_venv() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"Sprout needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not (BIN / "python").exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    want = _fingerprint()
    if STAMP.exists() and STAMP.read_text() == want:
        return
    print("installing Sprout and its dependencies (first run only)...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.check_call([*pip, "install", "--upgrade", "pip"])
    subprocess.check_call([*pip, "install", "-c", str(ROOT / "constraints.txt"), "-e", f"{ROOT}[test]"])
    STAMP.write_text(want)


def _exec(argv: list[str]) -> int:
    """Become `argv`: Ctrl-C then reaches `sprout up` itself, which stops everything in order.

    A parent waiting in subprocess.call would, on Ctrl-C, give its child a quarter of a
    second and then kill it, leaving the services and the database running.
    """
    os.chdir(ROOT)
    if os.name == "posix":
        sys.stdout.flush()
        os.execv(argv[0], argv)
    return subprocess.call(argv)


def run(args: list[str]) -> int:
    ensure_venv()
    return _exec([str(BIN / "sprout"), "up", *args])


def test(args: list[str]) -> int:
    ensure_venv()
    return _exec([str(BIN / "python"), "-m", "pytest", *args])


def bench(args: list[str]) -> int:
    ensure_venv()
    return _exec([str(BIN / "python"), "-m", "tests.perf", *args])


COMMANDS = {"run": run, "test": test, "bench": bench}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit("usage: python3 tasks.py {run|test|bench} [args...]")
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))

"""What benchmarks share: a scratch database, free ports, and real service processes that always stop."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def scratch_database() -> Iterator[str]:
    """A fresh, migrated database on the tests' server (see tests/conftest.py), dropped afterwards."""
    from sqlalchemy.engine import make_url

    from services.cli import migration_trees
    from shared.migrations import migrate
    from tests.conftest import _admin, _server_url

    server = _server_url()
    name = f"sprout_bench_{secrets.token_hex(4)}"
    asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        asyncio.run(migrate(url, migration_trees()))
        yield url
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def service_process(
    name: str, port: int, env: dict[str, str], log_dir: Path, timeout: float = 30.0
) -> Iterator[tuple[str, int]]:
    """`sprout serve <name>` as its own process (one uvicorn worker, as in production); yields its URL and pid."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", name, "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while not _ready(base + "/readyz"):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} did not become ready (exit code {proc.poll()}):\n{tail}")
            time.sleep(0.1)
        yield base, proc.pid
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so `finally` blocks stop the processes and drop the database."""

    def _exit(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)

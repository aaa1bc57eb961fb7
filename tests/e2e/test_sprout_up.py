"""`sprout up` for real: its own embedded PostgreSQL, five service processes, the gateway in front,
and Ctrl-C leaves nothing running; a service that cannot start is named, with the reason."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from services.cli import SERVICES
from shared.embedded import stop_embedded

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
UP_TIMEOUT = 90.0  # initdb, migrations and five interpreters on a loaded 2-core CI machine
STOP_TIMEOUT = 30.0  # `sprout up` grants its services 15 s, then the database stops
RESERVED = range(8000, 8005)  # the developer's own `sprout up`


def free_port_base(count: int = len(SERVICES)) -> int:
    """A port base whose `count` consecutive ports are all free on 127.0.0.1."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        ports = range(base, base + count)
        if ports[-1] > 65535 or any(p in RESERVED for p in ports):
            continue
        if all(port_is_free(p) for p in ports):
            return base
    raise RuntimeError("no run of free ports found")


def port_is_free(port: int) -> bool:
    """Whether a server could listen on the port now (as uvicorn does, over connections in TIME_WAIT)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Up:
    """A running `sprout up`, its output collected line by line on a thread."""

    def __init__(self, proc: subprocess.Popen, data_dir: Path, base: int):
        self.proc = proc
        self.data_dir = data_dir
        self.base = base
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return True
            if self.proc.poll() is not None:
                self._reader.join(5)
                return any(text in line for line in self.lines)
            time.sleep(0.1)
        return False

    def finish(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.base + SERVICES[name].offset}"


def leftovers(up: Up, settle: float = 10.0) -> list[str]:
    """Processes of this run still alive after `settle` seconds: its services (by port), its database (by folder).

    A process that has been told to stop may take a moment to exit, so this polls before it answers.
    """
    deadline = time.monotonic() + settle
    while (found := _running(up)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def _running(up: Up) -> list[str]:
    ports = {str(up.base + s.offset) for s in SERVICES.values()}
    found = []
    for p in psutil.process_iter(["pid", "cmdline", "status"]):
        try:
            cmdline = p.info["cmdline"] or []
            if p.info["status"] == psutil.STATUS_ZOMBIE:
                continue
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        joined = " ".join(cmdline)
        serves_ours = "services.cli" in joined and "serve" in cmdline and ports & set(cmdline)
        if serves_ours or str(up.data_dir) in joined:
            found.append(f"{p.info['pid']}: {joined}")
    return found


# How a person starts it: `sprout up` itself, or the README's run command in a terminal.
SPROUT_UP = [sys.executable, "-m", "services.cli", "up", "--timeout", str(UP_TIMEOUT)]
README_RUN = [sys.executable, str(ROOT / "tasks.py"), "run", "--timeout", str(UP_TIMEOUT)]


@contextmanager
def sprout_up(*args: str, base: int | None = None, command: list[str] = SPROUT_UP) -> Iterator[Up]:
    """Start `sprout up` on a free port range with its own data folder; kill whatever is left afterwards."""
    base = base or free_port_base()
    # A short folder: PostgreSQL's Unix socket path must stay under ~100 bytes.
    data_dir = Path(tempfile.mkdtemp(prefix="sprout-e2e-"))
    # Only what this run sets: no database URL (the embedded path), no settings of the caller's.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPROUT_")}
    env.update(SPROUT_PORT_BASE=str(base), SPROUT_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [*command, *args],
        cwd=ROOT,
        # Its own process group, like a shell job, so a test can Ctrl-C the whole group.
        start_new_session=True,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    up = Up(proc, data_dir, base)
    try:
        yield up
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        try:
            stop_embedded(up.pgdata)
        except Exception:  # the run's own outcome matters more than this cleanup's
            pass
        for pid_line in _running(up):
            try:
                psutil.Process(int(pid_line.split(":")[0])).kill()
            except psutil.NoSuchProcess:
                pass
        shutil.rmtree(data_dir, ignore_errors=True)


def service_pids(up: Up) -> dict[str, int]:
    """The five `sprout serve NAME` children of `sprout up`, by service name."""
    out: dict[str, int] = {}
    for child in psutil.Process(up.proc.pid).children(recursive=True):
        cmdline = child.cmdline()
        if "serve" in cmdline:
            out[cmdline[cmdline.index("serve") + 1]] = child.pid
    return out


def gone(pid: int, timeout: float = 10.0) -> bool:
    """Whether the process has ended (a zombie has: it waits only for its parent to read its status)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def postmaster_pid(pgdata: Path) -> int | None:
    pidfile = pgdata / "postmaster.pid"
    return int(pidfile.read_text().splitlines()[0]) if pidfile.exists() else None


# Ctrl-C in a terminal signals the whole foreground group; `sprout up`'s services run in
# sessions of their own, so only `sprout up` (which stops them in order) receives it.
@pytest.mark.parametrize("command", [SPROUT_UP, README_RUN], ids=["sprout-up", "readme-run-command"])
def test_sprout_up_serves_everything_through_the_gateway_and_ctrl_c_stops_it_all(command):
    with sprout_up(command=command) as up:
        assert up.wait_for("Sprout is up", UP_TIMEOUT + 30), up.output
        pids = service_pids(up)
        assert set(pids) == set(SERVICES), up.output
        database = postmaster_pid(up.pgdata)
        assert database is not None and psutil.pid_exists(database), "sprout up started no database of its own"

        with httpx.Client(timeout=10.0, trust_env=False) as client:
            for name in SERVICES:
                r = client.get(f"{up.url(name)}/readyz")
                assert r.status_code == 200, f"{name}: {r.status_code} {r.text}"
            for name in SERVICES:
                if name == "gateway":
                    continue
                r = client.get(f"{up.url('gateway')}/api/{name}/readyz")
                assert r.status_code == 200, f"gateway → {name}: {r.status_code} {r.text}"
                assert r.json()["service"] == name

        os.killpg(up.proc.pid, signal.SIGINT)
        code = up.finish(STOP_TIMEOUT)
        assert code == 0, up.output
        assert "database stopped" in up.output

        for name, pid in pids.items():
            assert gone(pid), f"{name} (pid {pid}) outlived sprout up"
        # `pg_ctl stop -w` returns once the server has shut down; its process may take a moment more to exit.
        assert gone(database), "the embedded PostgreSQL outlived sprout up"
        assert not (up.pgdata / "postmaster.pid").exists()
        assert leftovers(up) == []
        for name in SERVICES:
            assert port_is_free(up.base + SERVICES[name].offset), f"{name}'s port is still taken"


def test_a_service_that_cannot_start_is_named_with_its_reason_and_nothing_is_left_running():
    base = free_port_base()
    # Another program holds the courses port before `sprout up` starts.
    with socket.socket() as squatter:
        # A listening socket keeps uvicorn out even though both allow reuse of TIME_WAIT addresses.
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", base + SERVICES["courses"].offset))
        squatter.listen()
        with sprout_up(base=base) as up:
            code = up.finish(UP_TIMEOUT + 30)
            assert code != 0, up.output
            assert "courses failed to start" in up.output, up.output
            assert "address already in use" in up.output.lower(), up.output
            # The others started; none of them is said to have failed.
            others = [name for name in SERVICES if name != "courses"]
            assert not any(f"{name} failed to start" in up.output for name in others), up.output
            assert "Sprout is up" not in up.output
            assert leftovers(up) == []
            assert not (up.pgdata / "postmaster.pid").exists(), "the embedded PostgreSQL outlived sprout up"

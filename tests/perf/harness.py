"""What benchmarks share: a scratch database, free ports, real service processes that always stop, and the load generator."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIGURES_DIR = ROOT / ".sprout" / "bench"


def write_figures(name: str, figures: Mapping[str, object]) -> Path:
    """Keep a benchmark's figures in `.sprout/bench/<name>.json`, with when and where they were taken."""
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    path = FIGURES_DIR / f"{name}.json"
    record = {
        "benchmark": name,
        "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cores": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 2),
        "figures": dict(figures),
    }
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"  figures written to {path.relative_to(ROOT)}", flush=True)
    return path


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


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, where /proc exists (None elsewhere, or once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    name: str, port: int, env: dict[str, str], log_dir: Path, timeout: float = 30.0, command: list[str] | None = None
) -> Iterator[tuple[str, int]]:
    """`sprout serve <name>` (or `command`, serving it on `port`) as its own process (one uvicorn
    worker, as in production); yields its URL and pid."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command or [sys.executable, "-m", "services.cli", "serve", name, "--port", str(port)],
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


# ---------------------------------------------------------------- the load generator


@dataclass(frozen=True)
class LoadGenerator:
    """Drives keep-alive load at one URL for a bounded time; `run` returns rps, requests, errors, non_2xx, p50_ms, p99_ms."""

    description: str
    _run: Callable[[str, float, Mapping[str, str]], dict]

    def run(self, url: str, duration: float, headers: Mapping[str, str] | None = None) -> dict:
        return self._run(url, duration, headers or {})


def add_generator_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto",
                        help="auto: wrk when it is on PATH, else python -m tests.perf.load")
    parser.add_argument("--client", choices=("raw", "aiohttp"), default="raw",
                        help="the Python generator's client (raw costs least, so it holds the figures down least)")
    parser.add_argument("--wrk-threads", type=int, default=1, help="one leaves the most CPU to the servers")


def add_round_options(parser: argparse.ArgumentParser, *, connections: int) -> None:
    """--duration, --connections and --rounds of a benchmark measuring in interleaved rounds, and the generator's options."""
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of load per measurement (at most 60)")
    parser.add_argument("--connections", type=int, default=connections)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median of each is reported (at most 10)")
    add_generator_options(parser)


def check_round_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    if not 0 < args.duration <= 60:
        parser.error("--duration must be in (0, 60] seconds")
    if not 0 < args.rounds <= 10:
        parser.error("--rounds must be in [1, 10]")


def load_generator(args: argparse.Namespace, parser: argparse.ArgumentParser) -> LoadGenerator:
    """The generator add_generator_options' flags ask for, with `args.connections` connections."""
    has_wrk = shutil.which("wrk") is not None
    if args.generator == "wrk" and not has_wrk:
        parser.error("wrk is not on PATH")
    if args.generator == "wrk" or (args.generator == "auto" and has_wrk):
        return LoadGenerator(
            f"wrk ({shutil.which('wrk')}), {args.wrk_threads} thread(s)",
            lambda url, duration, headers: _wrk(url, headers, args.connections, duration, args.wrk_threads),
        )
    return LoadGenerator(
        f"python -m tests.perf.load ({args.client} client) in its own process; "
        f"it competes with the servers for the {os.cpu_count()} cores",
        lambda url, duration, headers: _python(url, headers, args.connections, duration, args.client),
    )


def _wrk(url: str, headers: Mapping[str, str], connections: int, duration: float, threads: int) -> dict:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency"]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    out = _generator_output([*cmd, url], duration)

    def find(pattern: str) -> str | None:
        m = re.search(pattern, out)
        return m.group(1) if m else None

    def ms(value: str | None) -> float | None:
        m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", value or "")
        scale = {"us": 0.001, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}
        return round(float(m.group(1)) * scale[m.group(2)], 2) if m else None

    errors = sum(int(n) for n in re.findall(r"\d+", find(r"Socket errors: (.*)") or ""))
    return {
        "rps": float(find(r"Requests/sec:\s+([\d.]+)") or 0),
        "requests": int(find(r"(\d+) requests in") or 0),
        "errors": errors,
        # wrk counts 3xx as success; no benchmark URL redirects, so this is the non-2xx count.
        "non_2xx": int(find(r"Non-2xx or 3xx responses: (\d+)") or 0),
        "p50_ms": ms(find(r"50%\s+(\S+)")),
        "p99_ms": ms(find(r"99%\s+(\S+)")),
    }


def _python(url: str, headers: Mapping[str, str], connections: int, duration: float, client: str) -> dict:
    cmd = [sys.executable, "-m", "tests.perf.load", url, "--connections", str(connections),
           "--duration", str(duration), "--client", client]
    for name, value in headers.items():
        cmd += ["--header", f"{name}: {value}"]
    return json.loads(_generator_output(cmd, duration).strip().splitlines()[-1])


def _generator_output(cmd: list[str], duration: float) -> str:
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode:
        raise RuntimeError(f"the load generator ({' '.join(cmd[:3])} ...) exited with {done.returncode}:\n{done.stderr[-2000:]}")
    return done.stdout

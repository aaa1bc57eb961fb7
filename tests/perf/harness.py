"""What benchmarks share: figures in one shape, a scratch database, free ports, real service processes that always stop, the load generator."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeVar

ROOT = Path(__file__).resolve().parents[2]
FIGURES_DIR = ROOT / ".sprout" / "bench"
T = TypeVar("T")


@dataclass(frozen=True)
class Comparison:
    """What a figure is measured against, in the same run (so the machine's load weighs on both)."""

    name: str
    value: float


@dataclass(frozen=True)
class Target:
    """A figure's goal: its value (or its ratio to the comparison) below or above a bound, strictly."""

    direction: Literal["below", "above"]
    value: float
    of: Literal["value", "ratio"] = "value"

    def met(self, value: float | None, ratio: float | None) -> bool:
        measured = value if self.of == "value" else ratio
        if measured is None:
            return False
        return measured < self.value if self.direction == "below" else measured > self.value


@dataclass(frozen=True)
class Figure:
    """One measured figure; `value` None means it could not be measured (the target is then missed)."""

    name: str
    value: float | None
    unit: str
    comparison: Comparison
    target: Target
    details: Mapping[str, object] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.comparison.value:
            return None
        return self.value / self.comparison.value

    @property
    def target_met(self) -> bool:
        return self.target.met(self.value, self.ratio)

    def record(self) -> dict:
        ratio = self.ratio
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "comparison": {"name": self.comparison.name, "value": self.comparison.value},
            "ratio": round(ratio, 4) if ratio is not None else None,
            "target": {"of": self.target.of, "direction": self.target.direction, "value": self.target.value},
            "target_met": self.target_met,
            **({"details": dict(self.details)} if self.details else {}),
        }

    def line(self) -> str:
        ratio = f"{self.ratio:.3g}" if self.ratio is not None else "n/a"
        value = f"{self.value:g}" if self.value is not None else "not measured"
        bound = f"{self.target.of} {self.target.direction} {self.target.value:g}"
        return (f"  {self.name:<30} {value:>10} {self.unit:<6} vs {self.comparison.name} "
                f"{self.comparison.value:g}: ratio {ratio}; target {bound}: {'met' if self.target_met else 'MISSED'}")


@dataclass(frozen=True)
class Machine:
    """When, and on how loaded a machine, a benchmark ran: taken as it starts and again as it writes its figures."""

    at: float
    cores: int | None
    load_average: tuple[float, float, float]

    @classmethod
    def now(cls) -> Machine:
        return cls(time.time(), os.cpu_count(), os.getloadavg())

    def record(self) -> dict:
        one, five, fifteen = (round(x, 2) for x in self.load_average)
        return {"1m": one, "5m": five, "15m": fifteen}


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def _commit() -> dict | None:
    """The checked-out commit, and whether the tree differs from it; None outside a git checkout."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True)
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return {"sha": sha.stdout.strip(), "dirty": bool(status.stdout.strip())}


def _checked(figures: Sequence[Figure]) -> list[Figure]:
    if not figures:
        raise ValueError("a benchmark writes at least one figure")
    names = set()
    for figure in figures:
        if not isinstance(figure, Figure):
            raise ValueError(f"not a Figure: {figure!r}")
        if not figure.name or figure.name in names:
            raise ValueError(f"figure names must be given and unique: {figure.name!r}")
        names.add(figure.name)
        if not isinstance(figure.unit, str) or not figure.unit.strip():
            raise ValueError(f"figure {figure.name!r} has no unit")
        if not isinstance(figure.target, Target) or figure.target.direction not in ("below", "above") \
                or figure.target.of not in ("value", "ratio") or not math.isfinite(figure.target.value):
            raise ValueError(f"figure {figure.name!r} has no target (Target('below'|'above', bound, of='value'|'ratio'))")
        if not isinstance(figure.comparison, Comparison) or not figure.comparison.name \
                or not math.isfinite(figure.comparison.value):
            raise ValueError(f"figure {figure.name!r} has no comparison measured in the same run")
        if figure.value is not None and not math.isfinite(figure.value):
            raise ValueError(f"figure {figure.name!r}: {figure.value} is not a measurement (None says 'not measured')")
    return list(figures)


def write_figures(
    name: str,
    figures: Sequence[Figure],
    *,
    started: Machine,
    options: argparse.Namespace | Mapping[str, object],
    details: Mapping[str, object] | None = None,
    directory: Path = FIGURES_DIR,
) -> Path:
    """Print a benchmark's figures and keep them in `<directory>/<name>.json` (`.sprout/bench/` by default).

    Every figures file has one shape, so that a release can compare runs:

        {"benchmark": "events", "started_at": "...Z", "finished_at": "...Z",
         "commit": {"sha": "...", "dirty": false} or null,
         "machine": {"cores": 2, "load_average": {"at_start": {"1m": .., "5m": .., "15m": ..}, "at_end": {...}}},
         "options": {the benchmark's command-line options},
         "figures": [{"name", "value", "unit", "comparison": {"name", "value"}, "ratio" (value / comparison),
                      "target": {"of": "value"|"ratio", "direction": "below"|"above", "value"}, "target_met",
                      "details" (optional)}, ...],
         "details": {...} (optional)}

    A figure without a unit, a target or a comparison is refused (ValueError) before anything is written.
    """
    checked = _checked(figures)
    finished = Machine.now()
    record = {
        "benchmark": name,
        "started_at": _when(started.at),
        "finished_at": _when(finished.at),
        "commit": _commit(),
        "machine": {
            "cores": finished.cores,
            "load_average": {"at_start": started.record(), "at_end": finished.record()},
        },
        "options": dict(vars(options) if isinstance(options, argparse.Namespace) else options),
        "figures": [figure.record() for figure in checked],
        **({"details": dict(details)} if details else {}),
    }
    text = json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(text)
    print(f"figures ({finished.cores} cores, load average {started.load_average[0]:.2f} at the start, "
          f"{finished.load_average[0]:.2f} at the end):", flush=True)
    for figure in checked:
        print(figure.line(), flush=True)
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print(f"  written to {shown}", flush=True)
    return path


def middle(items: Sequence[T], key: Callable[[T], float]) -> T:
    """The item with the median `key` (the upper of the middle two for an even count)."""
    return sorted(items, key=key)[len(items) // 2]


def from_rounds(
    name: str, unit: str, comparison: str, rounds: Sequence[tuple[float | None, float | None]], target: Target,
    details: Mapping[str, object] | None = None,
) -> Figure:
    """A figure measured in interleaved rounds, each giving (comparison, value): the round with the
    median ratio, so that value and comparison come from one round (a median of each would mix
    rounds), with every round's ratio in the details."""

    def ratio(pair: tuple[float | None, float | None]) -> float:
        base, value = pair
        return value / base if base and value is not None else 0.0

    base, value = middle(rounds, ratio)
    return Figure(name, value, unit, Comparison(comparison, base or 0), target,
                  details={"ratios_by_round": [round(ratio(pair), 3) for pair in rounds], **(details or {})})


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


def run_summary(r: dict) -> str:
    """A load run's latency, and its errors and non-2xx answers if it had any."""
    text = f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms"
    if r["errors"] or r["non_2xx"]:
        text += f"  (!! {r['errors']} errors, {r['non_2xx']} non-2xx)"
    return text


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

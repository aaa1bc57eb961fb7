"""Request cost: what a database-reading request costs, before and after dropping the ping on every checkout and the BEGIN/COMMIT of read-only requests.

Two gateways run side by side, each on a scratch database of its own (so each one's
PostgreSQL backends can be told apart), `sprout serve`-style, one uvicorn worker each,
rate limits out of the way:

  before   the code as it was: `pool_pre_ping=True` (a round trip on every checkout) and
           every request's session in a transaction (BEGIN before its first statement,
           COMMIT after), recreated in the process that serves it by two patches
  after    the code as it is: no ping, and a request session that reads outside a
           transaction until it writes (shared/db.py)

With keep-alive connections from the load generator the other benchmarks use, in
interleaved rounds (the median of each kept), it measures

  list     GET /identity/schools?limit=20 as an admin: token check, one paginated query
           through the request's session (`DbSession`): 4 round trips before, 1 after
  readyz   GET /readyz: a connection straight from the pool (no session), SELECT 1 and
           the migration heads; only the ping differs here

and prints requests/s, the gateway's CPU per request and its database backends' CPU per
request (from /proc; the figures least moved by other work on a shared machine), each
`after` figure compared with `before` from the same round (the round with the median
ratio; `.sprout/bench/requests.json`). It fails (exit code 1) on any error or non-2xx
answer. Figures and targets, for `list` and for `readyz`:

  <kind>_database_cpu   µs of database CPU per request; target ratio below 0.8 (list),
                        1.0 (readyz)
  <kind>_gateway_cpu    µs of gateway CPU per request; target ratio below 1.05
  <kind>_throughput     req/s; target ratio above 0.95

The targets say that `after` costs less than `before` where a round trip was dropped, with
room for this machine's noise where the saving is small.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from contextlib import ExitStack
from pathlib import Path

from tests.perf.harness import (
    ROOT, LoadGenerator, Machine, Target, add_round_options, check_round_options, cpu_seconds, exit_on_sigterm, free_port,
    from_rounds, load_generator, scratch_database, service_process, write_figures,
)

BEFORE_FLAG = "--serve-as-before"
PASSWORD = "bench-password-long-enough"
KINDS = ("list", "readyz")
# what -> the measurement's key, its unit, and its target for each kind of request.
MEASURES = {
    "database_cpu": ("database_cpu_us", "µs", {"list": Target("below", 0.8, of="ratio"), "readyz": Target("below", 1.0, of="ratio")}),
    "gateway_cpu": ("gateway_cpu_us", "µs", dict.fromkeys(KINDS, Target("below", 1.05, of="ratio"))),
    "throughput": ("rps", "req/s", dict.fromkeys(KINDS, Target("above", 0.95, of="ratio"))),
}


def serve_as_before(port: int) -> None:
    """Serve the gateway with the per-request database cost it had before (see the module docstring)."""
    from functools import partial

    import uvicorn

    import shared.app
    import shared.db
    from services.cli import uvicorn_options

    shared.app.create_engine = partial(shared.db.create_engine, pool_pre_ping=True)
    shared.db.begin_at_first_write = lambda session: None
    uvicorn.run("services.gateway.app:create_app", **uvicorn_options("127.0.0.1", port))


def _admin_token(gateway: str, database_url: str) -> str:
    env = {**os.environ, "SPROUT_DATABASE_URL": database_url}
    subprocess.run(
        [sys.executable, "-m", "services.cli", "user", "create", "--username", "bench-admin", "--role", "admin",
         "--display-name", "Benchmark admin", "--password-stdin"],
        cwd=ROOT, env=env, input=PASSWORD + "\n", capture_output=True, text=True, timeout=60, check=True,
    )
    body = urllib.parse.urlencode({"grant_type": "password", "username": "bench-admin", "password": PASSWORD}).encode()
    request = urllib.request.Request(f"{gateway}/auth/token", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())["access_token"]


def _add_schools(gateway: str, token: str, n: int) -> None:
    for i in range(n):
        body = json.dumps({"name": f"Bench school {i:03d}", "district": "Licheng", "level": "middle"}).encode()
        request = urllib.request.Request(
            f"{gateway}/identity/schools", data=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            assert r.status == 201


def _backend_pids(database_url: str) -> list[int]:
    """The PostgreSQL backends connected to this database (the gateway's pool), this benchmark's own excepted."""
    import asyncio

    from sqlalchemy import text

    from shared.db import create_engine

    async def ask() -> list[int]:
        engine = create_engine(database_url, pool_size=1, max_overflow=0)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ))
                return [r.pid for r in rows]
        finally:
            await engine.dispose()

    return asyncio.run(ask())


def _measured(load: LoadGenerator, url: str, duration: float, headers: dict, gateway_pid: int, database_url: str) -> dict:
    """One run, with the CPU the gateway and its database backends spent on it, per request."""
    backends = {pid: cpu_seconds(pid) for pid in _backend_pids(database_url)}
    gateway_before = cpu_seconds(gateway_pid)
    result = load.run(url, duration, headers)
    gateway_after = cpu_seconds(gateway_pid)
    # Backends that opened during the run count whole; ones that closed are lost (pools keep theirs).
    database = 0.0
    for pid in {*backends, *_backend_pids(database_url)}:
        now = cpu_seconds(pid)
        if now is not None:
            database += now - (backends.get(pid) or 0.0)
    n = result["requests"] or 1
    result["gateway_cpu_us"] = round((gateway_after - gateway_before) / n * 1e6) if None not in (gateway_before, gateway_after) else None
    result["database_cpu_us"] = round(database / n * 1e6)
    result["rps"] = round(result["rps"])
    return result


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [BEFORE_FLAG]:
        serve_as_before(int(argv[1]))
        return 0
    p = argparse.ArgumentParser(prog="python -m tests.perf.requests", description=__doc__.splitlines()[0])
    add_round_options(p, connections=16)
    args = p.parse_args(argv)
    check_round_options(args, p)
    exit_on_sigterm()
    started = Machine.now()
    load = load_generator(args, p)

    print(
        f"request cost, before versus after: {args.connections} connections, {args.duration:g} s each, "
        f"{args.rounds} interleaved rounds",
        flush=True,
    )
    print(f"  generator: {load.description}", flush=True)
    huge = str(10**9)
    env = {
        "SPROUT_CORS_ORIGINS": "[]", "SPROUT_EVENTS_ENABLED": "false", "SPROUT_LOG_LEVEL": "WARNING",
        **{f"SPROUT_RATE_LIMIT_{kind}{what}": huge for kind in ("", "ANONYMOUS_", "TOKEN_") for what in ("PER_MINUTE", "BURST")},
    }
    with (
        tempfile.TemporaryDirectory(prefix="sprout-bench-") as tmp,
        scratch_database() as before_db,
        scratch_database() as after_db,
        ExitStack() as stack,
    ):
        gateways = {}
        for version, database_url in (("before", before_db), ("after", after_db)):
            port, logs = free_port(), Path(tmp) / version
            logs.mkdir()
            command = [sys.executable, "-m", "tests.perf.requests", BEFORE_FLAG, str(port)] if version == "before" else None
            url, pid = stack.enter_context(
                service_process("gateway", port, {**env, "SPROUT_DATABASE_URL": database_url}, logs, command=command)
            )
            token = _admin_token(url, database_url)
            _add_schools(url, token, 20)
            gateways[version] = (url, pid, database_url, {"Authorization": f"Bearer {token}"})
        runs = [
            (f"{kind}/{version}", version, path, with_token)
            for kind, path, with_token in (("list", "/identity/schools?limit=20", True), ("readyz", "/readyz", False))
            for version in ("before", "after")
        ]

        def one(version: str, path: str, with_token: bool, duration: float) -> dict:
            url, pid, database_url, auth = gateways[version]
            return _measured(load, url + path, duration, auth if with_token else {}, pid, database_url)

        warm = {label: one(version, path, with_token, 1) for label, version, path, with_token in runs}
        measured: dict[str, list[dict]] = {label: [] for label, *_ in runs}
        for _ in range(args.rounds):
            for label, version, path, with_token in runs:
                measured[label].append(one(version, path, with_token, args.duration))

    figures = []
    for kind in KINDS:
        rounds = list(zip(measured[f"{kind}/before"], measured[f"{kind}/after"], strict=True))
        figures += [
            from_rounds(f"{kind}_{what}", unit, "before", [(b[key], a[key]) for b, a in rounds], targets[kind])
            for what, (key, unit, targets) in MEASURES.items()
        ]
    failed = {
        label: (sum(r["errors"] for r in [warm[label], *rs]), sum(r["non_2xx"] for r in [warm[label], *rs]))
        for label, rs in measured.items()
    }
    failed = {label: counts for label, counts in failed.items() if counts != (0, 0)}
    for label, (errors, non_2xx) in failed.items():
        print(f"  !! FAILED: {label}: {errors} errors, {non_2xx} non-2xx answers over all its runs", flush=True)
    write_figures("requests", figures, started=started, options=args,
                  details={"generator": load.description, "failed": bool(failed)})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

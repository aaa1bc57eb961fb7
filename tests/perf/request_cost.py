"""Request cost: what a database-reading request costs, before and after dropping the ping on every checkout and the BEGIN/COMMIT of read-only requests.

Two gateways run side by side on one scratch database (`sprout serve`-style, one uvicorn
worker each, rate limits out of the way):

  before   the code as it was: `pool_pre_ping=True` (a round trip on every checkout) and
           every request's session in a transaction (BEGIN before its first statement,
           COMMIT after), recreated in the process that serves it by two patches
  after    the code as it is: no ping, and a request session that reads outside a
           transaction until it writes (shared/db.py)

With 32 keep-alive connections from the load generator the other benchmarks use, in
interleaved rounds (the median of each kept), it measures

  list     GET /identity/schools?limit=20 as an admin: token check, one paginated query
           through the request's session (`DbSession`)
  readyz   GET /readyz: a connection straight from the pool (no session), SELECT 1 and
           the migration heads; only the ping differs here

and prints requests/s of each and the ratio after/before from the same run. It fails
(exit code 1) on any error or non-2xx answer.
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
    ROOT, add_generator_options, exit_on_sigterm, free_port, load_generator, scratch_database, service_process,
    write_figures,
)

BEFORE_FLAG = "--serve-as-before"
PASSWORD = "bench-password-long-enough"


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


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [BEFORE_FLAG]:
        serve_as_before(int(argv[1]))
        return 0
    p = argparse.ArgumentParser(prog="python -m tests.perf.request_cost", description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=5.0, help="seconds of load per measurement (at most 60)")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median of each is reported (at most 10)")
    add_generator_options(p)
    args = p.parse_args(argv)
    if not 0 < args.duration <= 60:
        p.error("--duration must be in (0, 60] seconds")
    if not 0 < args.rounds <= 10:
        p.error("--rounds must be in [1, 10]")
    exit_on_sigterm()
    load = load_generator(args, p)

    print(
        f"request cost, before versus after: {args.connections} connections, {args.duration:g} s each, "
        f"median of {args.rounds} interleaved rounds",
        flush=True,
    )
    print(f"  generator: {load.description}", flush=True)
    huge = str(10**9)
    env = {
        "SPROUT_CORS_ORIGINS": "[]", "SPROUT_EVENTS_ENABLED": "false", "SPROUT_LOG_LEVEL": "WARNING",
        **{f"SPROUT_RATE_LIMIT_{kind}{what}": huge for kind in ("", "ANONYMOUS_", "TOKEN_") for what in ("PER_MINUTE", "BURST")},
    }
    with tempfile.TemporaryDirectory(prefix="sprout-bench-") as tmp, scratch_database() as database_url, ExitStack() as stack:
        env["SPROUT_DATABASE_URL"] = database_url
        before_port, after_port = free_port(), free_port()
        logs = {name: Path(tmp) / name for name in ("before", "after")}
        for folder in logs.values():
            folder.mkdir()
        before, _ = stack.enter_context(service_process(
            "gateway", before_port, env, logs["before"],
            command=[sys.executable, "-m", "tests.perf.request_cost", BEFORE_FLAG, str(before_port)],
        ))
        after, _ = stack.enter_context(service_process("gateway", after_port, env, logs["after"]))
        token = _admin_token(after, database_url)
        _add_schools(after, token, 20)
        auth = {"Authorization": f"Bearer {token}"}
        runs = [
            (f"{kind}/{version}", f"{base}{path}", headers)
            for kind, path, headers in (("list", "/identity/schools?limit=20", auth), ("readyz", "/readyz", {}))
            for version, base in (("before", before), ("after", after))
        ]
        warm = {label: load.run(url, 1, headers) for label, url, headers in runs}
        measured: dict[str, list[dict]] = {label: [] for label, *_ in runs}
        for _ in range(args.rounds):
            for label, url, headers in runs:
                measured[label].append(load.run(url, args.duration, headers))
        results = {label: sorted(rs, key=lambda r: r["rps"])[len(rs) // 2] for label, rs in measured.items()}

    figures: dict[str, object] = {"rps": {label: round(r["rps"]) for label, r in results.items()}}
    for kind in ("list", "readyz"):
        b, a = results[f"{kind}/before"], results[f"{kind}/after"]
        ratio = a["rps"] / b["rps"] if b["rps"] else None
        figures[f"ratio_{kind}_after_vs_before"] = round(ratio, 3) if ratio else None
        print(
            f"  {kind:<7} before {b['rps']:>7.0f} req/s (p50 {b['p50_ms']} ms)   after {a['rps']:>7.0f} req/s "
            f"(p50 {a['p50_ms']} ms)   ratio {ratio:.2f}" if ratio else f"  {kind}: no requests completed",
            flush=True,
        )
    failed = {
        label: (sum(r["errors"] for r in [warm[label], *rs]), sum(r["non_2xx"] for r in [warm[label], *rs]))
        for label, rs in measured.items()
    }
    failed = {label: counts for label, counts in failed.items() if counts != (0, 0)}
    for label, (errors, non_2xx) in failed.items():
        print(f"  !! FAILED: {label}: {errors} errors, {non_2xx} non-2xx answers over all its runs", flush=True)
    figures["failed"] = bool(failed)
    write_figures("request_cost", figures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Gateway throughput: requests/s on a service's /healthz, directly and through the gateway, and their ratio.

Starts a real courses process and a real gateway process (`sprout serve`, one uvicorn
worker each, as in production) on a scratch database, then drives the same load (64
keep-alive connections for a bounded time) at `courses/healthz` and at
`gateway/api/courses/healthz`, alternating for a few rounds. Figures, from the round with the
median ratio (`.sprout/bench/gateway.json`):

  proxied_throughput        req/s through the gateway versus direct; target ratio above 0.4
  gateway_cpu_per_request   the gateway's CPU per proxied request versus the service's CPU per
                            request in the same run; target ratio below 3 (a regression guard:
                            it measures about 2 on the two-core development machine)

The load comes from `wrk` when it is on PATH, else from `tests.perf.load` in its own
process. A Python generator shares the two cores with the servers: its direct figure is
held down by its own cost more than the proxied one is, so its ratio reads high; only
figures from one generator compare. The CPU time per request (from /proc) is the figure
least moved by other work on the machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from tests.perf.harness import (
    LoadGenerator, Machine, Target, add_generator_options, cpu_seconds, exit_on_sigterm, free_port, from_rounds,
    load_generator, run_summary, scratch_database, service_process, write_figures,
)

TARGET_RATIO = 0.4
TARGET_CPU_RATIO = 3.0


def _measured(load: LoadGenerator, url: str, duration: float, pids: dict[str, int]) -> dict:
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    result = load.run(url, duration)
    after = {name: cpu_seconds(pid) for name, pid in pids.items()}
    n = result["requests"] or 1
    result["cpu_us"] = {
        name: round((after[name] - before[name]) / n * 1e6) for name in pids if None not in (before[name], after[name])
    }
    return result


def _line(label: str, r: dict) -> str:
    cpu = ", ".join(f"{name} {us} us" for name, us in r["cpu_us"].items())
    return f"    {label:<8} {r['rps']:>8.0f} req/s   CPU per request: {cpu or 'n/a'}; {run_summary(r)}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.perf.gateway", description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=5.0, help="seconds of load on each URL per round (at most 60)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (direct, then gateway); at most 10")
    p.add_argument("--connections", type=int, default=64)
    add_generator_options(p)
    args = p.parse_args(argv)
    if not 0 < args.duration <= 60 or not 1 <= args.rounds <= 10:
        p.error("--duration must be in (0, 60] seconds and --rounds in [1, 10]")
    exit_on_sigterm()
    started = Machine.now()

    load = load_generator(args, p)
    print(f"gateway throughput: GET /healthz of courses, direct and through the gateway; "
          f"{args.connections} connections, {args.rounds} x {args.duration:g} s per URL", flush=True)
    print(f"  generator: {load.description}", flush=True)
    rounds: list[tuple[dict, dict]] = []
    with tempfile.TemporaryDirectory(prefix="sprout-bench-") as tmp, scratch_database() as database_url, ExitStack() as stack:
        courses_port, gateway_port = free_port(), free_port()
        env = {"SPROUT_DATABASE_URL": database_url, "SPROUT_COURSES_URL": f"http://127.0.0.1:{courses_port}"}
        # One address sends all the load: the rate limit still runs (its cost is part of the
        # figure), with a budget this run cannot exhaust.
        gateway_env = {
            f"SPROUT_RATE_LIMIT_{kind}{what}": "100000000"
            for kind in ("", "ANONYMOUS_") for what in ("PER_MINUTE", "BURST")
        }
        # As in production, where no browser origin is allowed unless configured (development
        # allows the local dev servers', which puts CORS in front of every request).
        gateway_env["SPROUT_CORS_ORIGINS"] = "[]"
        courses, courses_pid = stack.enter_context(service_process("courses", courses_port, env, Path(tmp)))
        gateway, gateway_pid = stack.enter_context(
            service_process("gateway", gateway_port, {**env, **gateway_env}, Path(tmp))
        )
        pids = {"courses": courses_pid, "gateway": gateway_pid}
        direct_url, proxied_url = f"{courses}/healthz", f"{gateway}/api/courses/healthz"
        # Warm both paths (lazy imports, pools, the gateway's upstream connections).
        load.run(direct_url, 1)
        load.run(proxied_url, 1)
        for i in range(args.rounds):
            direct = _measured(load, direct_url, args.duration, pids)
            proxied = _measured(load, proxied_url, args.duration, pids)
            rounds.append((direct, proxied))
            print(f"  round {i + 1}: ratio {proxied['rps'] / direct['rps'] if direct['rps'] else 0:.2f}", flush=True)
            print(_line("direct", direct), flush=True)
            print(_line("gateway", proxied), flush=True)

    failed = any(r["errors"] or r["non_2xx"] for pair in rounds for r in pair)
    figures = [
        from_rounds("proxied_throughput", "req/s", "direct_throughput",
                    [(round(direct["rps"]), round(proxied["rps"])) for direct, proxied in rounds],
                    Target("above", TARGET_RATIO, of="ratio"),
                    details={"p99_ms_by_round": [{"direct": d["p99_ms"], "proxied": g["p99_ms"]} for d, g in rounds]}),
        from_rounds("gateway_cpu_per_request", "µs", "courses_cpu_per_request",
                    [(g["cpu_us"].get("courses"), g["cpu_us"].get("gateway")) for _, g in rounds],
                    Target("below", TARGET_CPU_RATIO, of="ratio")),
    ]
    write_figures("gateway", figures, started=started, options=args,
                  details={"generator": load.description, "failed": failed})
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

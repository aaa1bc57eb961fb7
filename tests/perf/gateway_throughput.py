"""Gateway throughput: requests/s on a service's /healthz, directly and through the gateway, and their ratio.

Starts a real courses process and a real gateway process (`sprout serve`, one uvicorn
worker each, as in production) on a scratch database, then drives the same load (64
keep-alive connections for a bounded time) at `courses/healthz` and at
`gateway/api/courses/healthz`, alternating for a few rounds, and prints each figure, the
median ratio (target >= 0.4) and the CPU each process spent per request.

The load comes from `wrk` when it is on PATH, else from `tests.perf.load` in its own
process. A Python generator shares the two cores with the servers: its direct figure is
held down by its own cost more than the proxied one is, so its ratio reads high; only
figures from one generator compare. The CPU time per request (from /proc) is the figure
least moved by other work on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from tests.perf.harness import (
    write_figures,
    LoadGenerator, add_generator_options, cpu_seconds, exit_on_sigterm, free_port, load_generator, scratch_database,
    service_process,
)

TARGET_RATIO = 0.4


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
    tail = f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms; CPU per request: {cpu or 'n/a'}"
    if r["errors"] or r["non_2xx"]:
        tail += f"  (!! {r['errors']} errors, {r['non_2xx']} non-2xx)"
    return f"    {label:<8} {r['rps']:>8.0f} req/s   {tail}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.perf.gateway_throughput", description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=5.0, help="seconds of load on each URL per round (at most 60)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (direct, then gateway); at most 10")
    p.add_argument("--connections", type=int, default=64)
    add_generator_options(p)
    args = p.parse_args(argv)
    if not 0 < args.duration <= 60 or not 1 <= args.rounds <= 10:
        p.error("--duration must be in (0, 60] seconds and --rounds in [1, 10]")
    exit_on_sigterm()

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

    ratios = [g["rps"] / d["rps"] if d["rps"] else 0.0 for d, g in rounds]
    ratio = statistics.median(ratios)
    direct_rps = statistics.median(d["rps"] for d, _ in rounds)
    proxied_rps = statistics.median(g["rps"] for _, g in rounds)
    gateway_cpu = [g["cpu_us"].get("gateway") for _, g in rounds if "gateway" in g["cpu_us"]]
    print(f"  median: direct {direct_rps:.0f} req/s, through the gateway {proxied_rps:.0f} req/s", flush=True)
    if gateway_cpu:
        print(f"  the gateway's own CPU per proxied request: median {statistics.median(gateway_cpu):.0f} us", flush=True)
    verdict = "meets" if ratio >= TARGET_RATIO else "BELOW"
    print(f"  ratio {ratio:.2f} (median of rounds; {verdict} the target of {TARGET_RATIO})", flush=True)
    failed = any(r["errors"] or r["non_2xx"] for pair in rounds for r in pair)
    write_figures("gateway_throughput", {
        "generator": load.description, "connections": args.connections, "rounds": args.rounds,
        "direct_rps": round(direct_rps), "gateway_rps": round(proxied_rps), "ratio": round(ratio, 3),
        "ratios": [round(x, 3) for x in ratios],
        "gateway_cpu_us_per_request": round(statistics.median(gateway_cpu)) if gateway_cpu else None,
        "target_ratio": TARGET_RATIO, "failed": failed,
    })
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

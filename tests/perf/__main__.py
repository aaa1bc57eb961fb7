"""`python -m tests.perf [NAME [options]]` (or `python3 tasks.py bench [NAME [options]]`): run the benchmarks.

With no name, every benchmark runs; each one prints its figures and writes them to
`.sprout/bench/<NAME>.json` (tests/perf/harness.py `write_figures`).
"""

from __future__ import annotations

import importlib
import sys

# name -> what it measures; each module tests.perf.<name> has main(argv) -> exit code.
BENCHMARKS = {
    "gateway_throughput": "gateway throughput",
    "events_latency": "event latency",
    "auth_cost": "auth cost",
    "revocation_latency": "revocation latency",
    "request_cost": "request cost (database round trips)",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # `bench` runs them all; `bench NAME [options]` runs one, with its own options
    # (`bench events_latency --seconds 5`; `bench events_latency --help` lists them).
    names, options = (argv[:1], argv[1:]) if argv else (list(BENCHMARKS), [])
    if names[0] not in BENCHMARKS:
        print(f"unknown benchmark {names[0]!r}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    code = 0
    for name in names:
        print(f"== {BENCHMARKS[name]} (tests.perf.{name})", flush=True)
        module = importlib.import_module(f"tests.perf.{name}")
        code = module.main(options) or code
        print(flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())

"""`python -m tests.perf [NAME [options]]` (or `python3 tasks.py bench [NAME [options]]`): run the benchmarks.

With no name, every benchmark runs with its default options; `NAME [options]` runs one
(`bench events --seconds 5`; `bench events --help` lists its options). Each prints its
figures and writes them to `.sprout/bench/<NAME>.json` (tests/perf/harness.py `write_figures`).
"""

from __future__ import annotations

import importlib
import sys

# name -> what it measures; each module tests.perf.<name> has main(argv) -> exit code.
BENCHMARKS = {
    "gateway": "gateway throughput: a service's /healthz through the gateway versus directly",
    "events": "event bus: publish commit -> handler start, and the claim's cost with timers waiting",
    "auth": "auth cost: token verification, and gateway throughput with auth on versus off",
    "revocation": "revocation latency: an account disabled -> the first 401 at the gateway and two replicas",
    "directory": "directory latency: an import, an unlink, a disabling at the gateway -> acted on by every domain service",
    "selection": "selection's computations: panel assignment (5,000 x 60 x 3), rater-effects fit (15,000 scores), ranking (10,000)",
    "matching": "mentoring's stable matching: 5,000 students ranking 10 of 1,000 mentors, ours versus the matching package's",
    "responsiveness": "the gateway's loop under heavy work: /healthz while a 5,000-row import and a burst of password changes run",
    "requests": "request cost: a database-reading request before and after dropping the ping and BEGIN/COMMIT",
    "registration": "registration day: 20,000 students registering at once through the gateway for 40 sections, versus a bare UPDATE endpoint",
}


def _known() -> str:
    return "\n".join(f"  {name:<15} {what}" for name, what in BENCHMARKS.items())


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["-h"], ["--help"]):
        print(f"{__doc__.splitlines()[0]}\n\nbenchmarks:\n{_known()}")
        return 0
    names, options = (argv[:1], argv[1:]) if argv else (list(BENCHMARKS), [])
    if names[0] not in BENCHMARKS:
        print(f"unknown benchmark {names[0]!r}; the benchmarks are:\n{_known()}", file=sys.stderr)
        return 2
    code = 0
    for name in names:
        print(f"== {name}: {BENCHMARKS[name]} (tests/perf/{name}.py)", flush=True)
        module = importlib.import_module(f"tests.perf.{name}")
        code = module.main(options) or code
        print(flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())

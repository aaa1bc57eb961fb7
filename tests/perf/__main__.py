"""`python -m tests.perf` (or `python3 tasks.py bench`): run every benchmark, one after the other."""

from __future__ import annotations

import importlib
import sys

# (module, what it measures); each module has main(argv) -> exit code.
BENCHMARKS = [
    ("tests.perf.gateway_throughput", "gateway throughput"),
    ("tests.perf.events_latency", "event latency"),
    ("tests.perf.auth_cost", "auth cost"),
]


def main(argv: list[str] | None = None) -> int:
    code = 0
    for module_name, title in BENCHMARKS:
        print(f"== {title} ({module_name})", flush=True)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            print(f"   skipped: {module_name} does not exist yet", flush=True)
            continue
        code = module.main([]) or code
        print(flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

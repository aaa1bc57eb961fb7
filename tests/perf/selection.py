"""Selection's three heavy computations at the programme's scale, each timed against a simpler one in the same run.

- `assignment`: 5,000 interview candidates, 60 experts of three types, 3 per candidate, ~10%
  of pairs conflicted, as one min-cost flow (shared/assignment.py); against a plain max
  flow on the same pairs (what ignoring balance, mixing and fit would cost).
  tests/perf/selection_assignment.py.
- `rater_fit`: the additive rater-effects model over 15,000 interview scores (5,000
  candidates, 60 experts; shared/rubrics/raters.py); against per-expert z-scores.
  tests/perf/selection_raters.py.
- `ranking`: 10,000 candidates of one discipline ranked on their composite with the
  documented tie-breaks (services/selection/results/ranking.py); against sorting the same
  candidates on a precomputed number (the floor any ranking pays).

Targets: each under 1 s on this machine (issue 8). Pure computations, no database: the
figures are the algorithms', not the service's I/O.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from decimal import Decimal

from services.selection.results.ranking import Entry, StageResult, rank
from tests.perf.harness import Comparison, Figure, Machine, Target, write_figures
from tests.perf.selection_assignment import measure_assignment
from tests.perf.selection_raters import measure_rater_fit

TARGET_MS = 1000.0
WEIGHTS = {"iq_test": 1, "written_test": 1, "interview": 2}


def _entries(n: int, seed: int) -> list[Entry]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        stages = {s: StageResult("scored", Decimal(rng.randint(0, 10_000)) / 100) for s in WEIGHTS}
        if rng.random() < 0.02:
            stages["iq_test"] = StageResult("exempt")
        if rng.random() < 0.01:
            stages["written_test"] = StageResult("absent")
        out.append(Entry(uuid.UUID(int=rng.getrandbits(128)), stages))
    return out


def measure_ranking(candidates: int = 10_000, runs: int = 5, seed: int = 8) -> dict:
    entries = _entries(candidates, seed)
    keys = [(float(e.stages["interview"].value or 0), str(e.candidate_id)) for e in entries]
    times, floor = [], []
    for _ in range(runs):
        t = time.perf_counter()
        ranked = rank(entries, WEIGHTS, quota=100, waitlist=100)
        times.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        sorted(keys)
        floor.append((time.perf_counter() - t) * 1000)
    return {"ranking_ms": round(statistics.median(times), 1), "runs_ms": [round(x, 1) for x in times],
            "sort_ms": round(statistics.median(floor), 2), "candidates": candidates,
            "incomplete": sum(not r.complete for r in ranked)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.perf.selection", description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5, help="timed runs of each; the median is the figure (1-20)")
    args = p.parse_args(argv)
    if not 1 <= args.runs <= 20:
        p.error("--runs must be in [1, 20]")
    started = Machine.now()
    a = measure_assignment(runs=args.runs)
    print(f"assignment: {a['candidates']} candidates x {a['experts']} experts x {a['k']}: {a['assign_ms']} ms "
          f"(plain max flow {a['max_flow_ms']} ms); spread {a['spread']}, {a['mixed_panels']} panels mixed, "
          f"{a['fitting_panels']} fitting the discipline", flush=True)
    r = measure_rater_fit(runs=args.runs)
    print(f"rater fit: {r['details'].get('ratings', 15000)} scores: {r['value']} ms (per-expert z-scores {r['comparison']['value']} ms)", flush=True)
    k = measure_ranking(runs=args.runs)
    print(f"ranking: {k['candidates']} candidates: {k['ranking_ms']} ms (a plain sort {k['sort_ms']} ms)", flush=True)
    figures = [
        Figure("assignment", a["assign_ms"], "ms", Comparison("max_flow", a["max_flow_ms"]), Target("below", TARGET_MS),
               details={key: v for key, v in a.items() if key not in ("assign_ms", "max_flow_ms")}),
        Figure(r["name"], r["value"], r["unit"], Comparison(**r["comparison"]), Target(**r["target"]), r["details"]),
        Figure("ranking", k["ranking_ms"], "ms", Comparison("plain_sort", k["sort_ms"]), Target("below", TARGET_MS),
               details={key: v for key, v in k.items() if key not in ("ranking_ms", "sort_ms")}),
    ]
    ok = all(f.target_met for f in figures)
    print(f"  {'each under 1 s' if ok else '!! OVER 1 s'}", flush=True)
    write_figures("selection", figures, started=started, options=args)
    return 0 if ok else 1

if __name__ == "__main__":
    import sys

    sys.exit(main())

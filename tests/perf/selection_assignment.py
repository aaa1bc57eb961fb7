"""Selection's panel assignment at a campaign's size: 5,000 interview candidates, 60 experts, 3 per panel (issue 8's benchmark).

`measure_assignment()` builds one seeded instance: candidates over 5 disciplines, experts of 3
types with one or two disciplines each, about 10% of the (candidate, expert) pairs in conflict,
and maximum loads adding up to 1.2 x the 15,000 seats. It times `shared.assignment.assign` (the
median of `runs`), and, as the comparison from the same run, a plain max flow over the same
open pairs (what the feasibility alone costs), and returns the figures with the assignment's
own (spread, mixed and fitting panels, loads) so a reader sees the answer was a good one.
"""

from __future__ import annotations

import random
import statistics
import time

import numpy as np
from ortools.graph.python import max_flow

from shared.assignment import Assessor, Subject, assign

DISCIPLINES = ("math", "physics", "chemistry", "biology", "computer_science")
TYPES = ("professor", "researcher", "principal")


def _instance(candidates: int, experts: int, k: int, conflict_rate: float, slack: float, seed: int):
    rng = random.Random(seed)
    seats = candidates * k
    share = -(-int(seats * slack) // experts)
    pool = [Assessor(f"expert{j:03d}", TYPES[j % len(TYPES)], frozenset(rng.sample(DISCIPLINES, rng.choice((1, 2)))),
                     share + rng.randint(0, 20)) for j in range(experts)]
    subjects = [Subject(f"candidate{i:05d}", rng.choice(DISCIPLINES)) for i in range(candidates)]
    conflicts = [(s.id, a.id) for s in subjects for a in pool if rng.random() < conflict_rate]
    return subjects, pool, conflicts


def _max_flow_ms(subjects: list[Subject], pool: list[Assessor], k: int, conflicts: list[tuple[str, str]]) -> float:
    """A max flow source -> candidate (k) -> expert (1, no conflict) -> sink (max load): the comparison."""
    n, m = len(subjects), len(pool)
    col = {a.id: j for j, a in enumerate(pool)}
    row = {s.id: i for i, s in enumerate(subjects)}
    allowed = np.ones((n, m), dtype=bool)
    for sid, aid in conflicts:
        allowed[row[sid], col[aid]] = False
    pair_s, pair_a = np.nonzero(allowed)
    started = time.perf_counter()
    flow = max_flow.SimpleMaxFlow()
    flow.add_arcs_with_capacity(
        np.concatenate([np.zeros(n, dtype=np.int64), 2 + pair_s, 2 + n + np.arange(m)]),
        np.concatenate([2 + np.arange(n), 2 + n + pair_a, np.ones(m, dtype=np.int64)]),
        np.concatenate([np.full(n, k), np.ones(len(pair_s), dtype=np.int64), [a.max_load for a in pool]]),
    )
    flow.solve(0, 1)
    return (time.perf_counter() - started) * 1000


def measure_assignment(candidates: int = 5000, experts: int = 60, k: int = 3, conflict_rate: float = 0.1,
                       slack: float = 1.2, runs: int = 5, seed: int = 8) -> dict:
    """Time `assign` on one generated campaign; the median of `runs`, with each run and the answer's figures."""
    subjects, pool, conflicts = _instance(candidates, experts, k, conflict_rate, slack, seed)
    times, comparison = [], []
    for _ in range(runs):
        comparison.append(_max_flow_ms(subjects, pool, k, conflicts))
        started = time.perf_counter()
        result = assign(subjects, pool, k, conflicts)
        times.append((time.perf_counter() - started) * 1000)
    loads = result.loads.values()
    return {
        "assign_ms": round(statistics.median(times), 1),
        "runs_ms": [round(t, 1) for t in times],
        "max_flow_ms": round(statistics.median(comparison), 1),
        "candidates": candidates,
        "experts": experts,
        "k": k,
        "conflicts": len(conflicts),
        "max_load_total": sum(a.max_load for a in pool),
        "spread": result.spread,
        "mixed_panels": result.mixed_panels,
        "fitting_panels": result.fitting_panels,
        "load_min": min(loads),
        "load_max": max(loads),
        "misfits": result.cost.misfits,
    }


if __name__ == "__main__":
    print(measure_assignment())

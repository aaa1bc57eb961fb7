"""An independent reference for the assignment tests: feasibility by plain max flows, and the best cost by enumeration.

Nothing here reuses shared/assignment.py. A full assignment with every assessor's load within
[low, high] exists iff a max flow with lower bounds (the textbook reduction to a max flow
between a new source and sink) saturates; the least possible largest load is the least bound
for which one exists. Enumeration, for tiny instances only, gives the best (load squares,
repeats, misfits) over every full assignment.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable
from dataclasses import dataclass, field

from ortools.graph.python import max_flow

from shared.assignment import Assessor, Subject


@dataclass(frozen=True)
class Case:
    subjects: list[Subject]
    assessors: list[Assessor]
    k: int
    conflicts: frozenset[tuple[Hashable, Hashable]] = frozenset()
    fixed: dict[Hashable, frozenset[Hashable]] = field(default_factory=dict)

    def pinned(self, s: Subject) -> frozenset[Hashable]:
        return self.fixed.get(s.id, frozenset())

    def pinned_load(self, a: Assessor) -> int:
        return sum(a.id in members for members in self.fixed.values())

    def open_to(self, s: Subject) -> list[Assessor]:
        """The assessors a solve may still add to s's panel."""
        return [a for a in self.assessors
                if a.max_load > 0 and (s.id, a.id) not in self.conflicts and a.id not in self.pinned(s)]


def full_assignment_exists(case: Case, low: dict[Hashable, int], high: dict[Hashable, int]) -> bool:
    """Is there an assignment (fixed pairs kept, no conflict) with every load in [low, high]?"""
    n = len(case.subjects)
    source, sink, new_source, new_sink = 0, 1, 2, 3
    subject_node = {s.id: 4 + i for i, s in enumerate(case.subjects)}
    assessor_node = {a.id: 4 + n + j for j, a in enumerate(case.assessors)}
    flow = max_flow.SimpleMaxFlow()
    required = 0
    flow.add_arc_with_capacity(sink, source, 10**9)
    for s in case.subjects:
        need = case.k - len(case.pinned(s))
        # Exactly `need` from the source: a lower bound equal to the capacity.
        flow.add_arc_with_capacity(new_source, subject_node[s.id], need)
        flow.add_arc_with_capacity(source, new_sink, need)
        required += need
        for a in case.open_to(s):
            flow.add_arc_with_capacity(subject_node[s.id], assessor_node[a.id], 1)
    for a in case.assessors:
        lo = max(low[a.id] - case.pinned_load(a), 0)
        hi = high[a.id] - case.pinned_load(a)
        if hi < lo:
            return False
        flow.add_arc_with_capacity(assessor_node[a.id], sink, hi - lo)
        flow.add_arc_with_capacity(new_source, sink, lo)
        flow.add_arc_with_capacity(assessor_node[a.id], new_sink, lo)
        required += lo
    assert flow.solve(new_source, new_sink) == flow.OPTIMAL
    return flow.optimal_flow() == required


def feasible(case: Case) -> bool:
    return full_assignment_exists(case, {a.id: 0 for a in case.assessors}, {a.id: a.max_load for a in case.assessors})


def least_largest_load(case: Case) -> int:
    """The least bound U for which a full assignment keeps every load at most U (the case is feasible)."""
    for bound in itertools.count():
        if full_assignment_exists(case, {a.id: 0 for a in case.assessors},
                                  {a.id: min(a.max_load, bound) for a in case.assessors}):
            return bound
    raise AssertionError("unreachable")


def even_level(case: Case) -> int | None:
    """An L for which a full assignment has every load in [min(max_load, L), min(max_load, L + 1)], if any."""
    for level in range(max((a.max_load for a in case.assessors), default=0) + 1):
        if full_assignment_exists(case, {a.id: min(a.max_load, level) for a in case.assessors},
                                  {a.id: min(a.max_load, level + 1) for a in case.assessors}):
            return level
    return None


def expected_constraint(case: Case) -> str:
    """Which constraint an infeasible case breaks first, in the documented order (the fixed pairs are valid)."""
    n, k = len(case.subjects), case.k
    able = [a for a in case.assessors if a.max_load > 0]
    if n and k > len(able):
        return "panel_size"
    if sum(a.max_load for a in case.assessors) < k * n:
        return "capacity"
    for s in case.subjects:
        if sum((s.id, a.id) not in case.conflicts for a in able) < k:
            return "conflicts"
    return "capacity_after_conflicts"


def cost(case: Case, panels: dict[Hashable, tuple[Hashable, ...]]) -> tuple[int, int, int]:
    """(sum of squared loads, type repeats, misfits) of a full assignment, counted directly."""
    by_id = {a.id: a for a in case.assessors}
    loads = {a.id: 0 for a in case.assessors}
    repeats = misfits = 0
    for s in case.subjects:
        members = [by_id[a] for a in panels[s.id]]
        for a in members:
            loads[a.id] += 1
            misfits += s.discipline not in a.disciplines
        for kind in {a.type for a in members}:
            c = sum(a.type == kind for a in members)
            repeats += c * (c - 1) // 2
    return sum(load * load for load in loads.values()), repeats, misfits


def best_cost(case: Case) -> tuple[int, int, int] | None:
    """The least cost over every full assignment, by enumeration (tiny cases only); None if there is none."""
    choices = []
    for s in case.subjects:
        extra = case.k - len(case.pinned(s))
        choices.append([tuple(case.pinned(s)) + tuple(a.id for a in more)
                        for more in itertools.combinations(case.open_to(s), extra)])
    best = None
    capacity = {a.id: a.max_load for a in case.assessors}
    for pick in itertools.product(*choices):
        panels = {s.id: panel for s, panel in zip(case.subjects, pick, strict=True)}
        loads: dict[Hashable, int] = {}
        for panel in pick:
            for a in panel:
                loads[a] = loads.get(a, 0) + 1
        if all(load <= capacity[a] for a, load in loads.items()):
            found = cost(case, panels)
            best = found if best is None or found < best else best
    return best

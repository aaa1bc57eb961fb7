"""Properties of the panel assignment over random cases, checked against an independent reference (tests/assignment/reference.py)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from shared.assignment import Assignment, AssignmentInfeasible, assign
from tests.assignment import reference
from tests.assignment.reference import Case
from tests.assignment.strategies import cases


def solve(case: Case) -> Assignment:
    return assign(case.subjects, case.assessors, case.k, case.conflicts, case.fixed)


def check_rules(case: Case, result: Assignment) -> None:
    """Never a conflict, k distinct members per panel, fixed pairs kept, loads within max_load and as counted."""
    assert set(result.panels) == {s.id for s in case.subjects}
    counted = {a.id: 0 for a in case.assessors}
    for sid, panel in result.panels.items():
        assert len(panel) == len(set(panel)) == case.k
        assert not {(sid, aid) for aid in panel} & case.conflicts
        assert case.fixed.get(sid, frozenset()) <= set(panel)
        for aid in panel:
            counted[aid] += 1
    assert result.loads == counted
    assert all(counted[a.id] <= a.max_load for a in case.assessors)


def check_refusal(case: Case, refusal: AssignmentInfeasible) -> None:
    """Refused only when no assignment exists, naming the constraint the reference finds first."""
    assert not reference.feasible(case)
    assert refusal.constraint == reference.expected_constraint(case)
    assert refusal.message
    if refusal.constraint == "capacity_after_conflicts":
        # The named subjects need more seats than the named (full) assessors have left plus one
        # seat per pair with any other assessor open to them: a proof that none can be found.
        named = set(refusal.assessors)
        subjects = [s for s in case.subjects if s.id in set(refusal.subjects)]
        seats = sum(case.k - len(case.pinned(s)) for s in subjects)
        left = sum(a.max_load - case.pinned_load(a) for a in case.assessors if a.id in named)
        elsewhere = sum(a.id not in named for s in subjects for a in case.open_to(s))
        assert seats > left + elsewhere


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_a_panel_never_breaks_a_rule_and_loads_are_as_even_as_the_reference_allows(case: Case) -> None:
    try:
        result = solve(case)
    except AssignmentInfeasible as refusal:
        check_refusal(case, refusal)
        return
    assert reference.feasible(case)
    check_rules(case, result)
    if not case.subjects:
        return
    assert max(result.loads.values()) == reference.least_largest_load(case)
    level = reference.even_level(case)
    if level is not None:
        assert result.spread <= 1
        for a in case.assessors:
            assert min(a.max_load, level) <= result.loads[a.id] <= min(a.max_load, level + 1)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(subjects=3, assessors=5, k=2, load=3))
def test_the_assignment_is_the_best_by_balance_then_mixing_then_discipline(case: Case) -> None:
    best = reference.best_cost(case)
    try:
        result = solve(case)
    except AssignmentInfeasible as refusal:
        assert best is None
        check_refusal(case, refusal)
        return
    check_rules(case, result)
    assert tuple(result.cost) == reference.cost(case, result.panels) == best

"""Random assignment cases for hypothesis: few subjects and assessors, so that the reference's max flows (and enumeration) stay quick."""

from __future__ import annotations

from hypothesis import strategies as st

from shared.assignment import Assessor, Subject
from tests.assignment.reference import Case

TYPES = ("professor", "researcher", "principal")
DISCIPLINES = ("math", "physics", "chemistry")


@st.composite
def cases(draw, *, subjects: int = 7, assessors: int = 7, k: int = 4, load: int = 5) -> Case:
    """A case with valid fixed pairs (at most k per subject, within max_load, free of conflict)."""
    pool = [
        Assessor(f"e{j}", draw(st.sampled_from(TYPES)), frozenset(draw(st.sets(st.sampled_from(DISCIPLINES)))),
                 draw(st.integers(0, load)))
        for j in range(draw(st.integers(1, assessors)))
    ]
    people = [Subject(f"c{i}", draw(st.sampled_from(DISCIPLINES))) for i in range(draw(st.integers(0, subjects)))]
    size = draw(st.integers(0, k))
    pairs = [(s.id, a.id) for s in people for a in pool]
    # Densities drawn first, so that cases range from no conflict to hardly any free pair.
    rng = draw(st.randoms(use_true_random=False))
    conflict_density, fixed_density = draw(st.sampled_from((0, 0.1, 0.2, 0.4))), draw(st.sampled_from((0, 0.3, 0.6)))
    conflicts = frozenset(p for p in pairs if rng.random() < conflict_density)
    wished = {p for p in pairs if rng.random() < fixed_density}
    fixed: dict[str, set[str]] = {}
    loads = {a.id: 0 for a in pool}
    capacity = {a.id: a.max_load for a in pool}
    for sid, aid in sorted(wished - conflicts):
        if len(fixed.get(sid, ())) < size and loads[aid] < capacity[aid]:
            fixed.setdefault(sid, set()).add(aid)
            loads[aid] += 1
    return Case(people, pool, size, conflicts, {sid: frozenset(members) for sid, members in fixed.items()})

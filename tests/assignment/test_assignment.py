"""Panel assignment by hand-made cases: the stories a staff preview shows, and each way a case can be refused."""

from __future__ import annotations

import random

import pytest

from shared.assignment import Assessor, AssignmentInfeasible, Cost, Subject, assign

MATH, PHYSICS = frozenset({"math"}), frozenset({"physics"})


def expert(name: str, kind: str = "professor", disciplines: frozenset[str] = MATH, max_load: int = 10) -> Assessor:
    return Assessor(name, kind, disciplines, max_load)


def candidates(count: int, discipline: str = "math") -> list[Subject]:
    return [Subject(f"c{i}", discipline) for i in range(count)]


def kinds(panel: tuple[str, ...], pool: list[Assessor]) -> list[str]:
    by_id = {a.id: a for a in pool}
    return sorted(by_id[aid].type for aid in panel)


def test_with_three_types_and_three_per_panel_each_panel_has_one_of_each() -> None:
    pool = [expert(f"{kind}{i}", kind) for kind in ("professor", "researcher", "principal") for i in range(3)]
    result = assign(candidates(9), pool, 3)
    assert all(kinds(panel, pool) == ["principal", "professor", "researcher"] for panel in result.panels.values())
    assert result.mixed_panels == 9
    assert set(result.loads.values()) == {3}
    assert result.spread == 0


def test_four_per_panel_over_three_types_brings_every_type() -> None:
    pool = [expert(f"{kind}{i}", kind) for kind in ("professor", "researcher", "principal") for i in range(4)]
    result = assign(candidates(3), pool, 4)
    for panel in result.panels.values():
        assert sorted(map(kinds(panel, pool).count, ("professor", "researcher", "principal"))) == [1, 1, 2]
    assert result.cost.repeats == 3


def test_an_expert_of_the_candidates_discipline_is_preferred() -> None:
    pool = [expert("m1"), expert("m2"), expert("p1", disciplines=PHYSICS), expert("p2", disciplines=PHYSICS)]
    result = assign([Subject("a", "math"), Subject("b", "physics")], pool, 2)
    assert result.panels == {"a": ("m1", "m2"), "b": ("p1", "p2")}
    assert result.fitting_panels == 2
    assert result.cost == Cost(load_squares=4, repeats=2, misfits=0)


def test_mixing_types_comes_before_discipline_fit() -> None:
    # One professor on each panel leaves each panel a member outside its discipline, and is still chosen.
    pool = [expert("m1"), expert("m2"), expert("r1", "researcher", PHYSICS), expert("r2", "researcher", PHYSICS)]
    result = assign([Subject("a", "math"), Subject("b", "physics")], pool, 2)
    assert all(kinds(panel, pool) == ["professor", "researcher"] for panel in result.panels.values())
    assert result.cost.misfits == 2
    assert result.fitting_panels == 0


def test_balance_comes_before_discipline_fit() -> None:
    # m1 fits everyone, but four panels for m1 and none for p1 would not be even.
    pool = [expert("m1", max_load=4), expert("p1", disciplines=PHYSICS, max_load=4)]
    result = assign(candidates(4), pool, 1)
    assert result.loads == {"m1": 2, "p1": 2}
    assert result.spread == 0
    assert result.fitting_panels == 2


def test_an_expert_conflicted_with_every_candidate_left_idle_does_not_count_in_the_spread() -> None:
    # The principal's school is every candidate's: idle, yet the two others are as even as can be.
    pool = [expert("m1"), expert("m2"), expert("principal", "principal")]
    subjects = candidates(2)
    result = assign(subjects, pool, 2, conflicts={(s.id, "principal") for s in subjects})
    assert result.loads == {"m1": 2, "m2": 2, "principal": 0}
    assert result.spread == 0
    # With one candidate they may take, they take it: four places over three, within one of even.
    result = assign(subjects, pool, 2, conflicts={("c0", "principal")})
    assert result.loads["principal"] == 1 and sorted(result.loads.values()) == [1, 1, 2] and result.spread == 1


def test_balance_comes_before_mixing_types() -> None:
    # One researcher on every panel would load them with 6 and the professors with 3 each.
    pool = [expert("p1"), expert("p2"), expert("r1", "researcher")]
    result = assign(candidates(6), pool, 2)
    assert result.loads == {"p1": 4, "p2": 4, "r1": 4}
    assert result.mixed_panels == 4
    assert result.cost == Cost(load_squares=48, repeats=2, misfits=0)


def test_an_expert_with_a_lower_maximum_sits_at_it_and_the_others_share_evenly() -> None:
    pool = [expert("low", max_load=1), expert("a"), expert("b"), expert("c")]
    result = assign(candidates(10), pool, 1)
    assert result.loads["low"] == 1
    assert sorted(result.loads[name] for name in "abc") == [3, 3, 3]
    assert result.spread == 0


def test_every_expert_has_a_load_even_one_who_cannot_serve() -> None:
    pool = [expert("a"), expert("b"), expert("away", max_load=0)]
    result = assign(candidates(2), pool, 2)
    assert result.loads == {"a": 2, "b": 2, "away": 0}
    assert result.spread == 0


def test_the_same_case_in_any_order_gives_the_same_panels() -> None:
    rng = random.Random(7)
    pool = [expert(f"e{j}", ("professor", "researcher", "principal")[j % 3], frozenset(rng.sample(["math", "physics"], 1)), 6)
            for j in range(9)]
    people = [Subject(f"c{i}", rng.choice(["math", "physics"])) for i in range(15)]
    conflicts = [(s.id, a.id) for s in people for a in pool if rng.random() < 0.2]
    first = assign(people, pool, 3, conflicts)
    for _ in range(3):
        rng.shuffle(pool)
        rng.shuffle(people)
        rng.shuffle(conflicts)
        assert assign(people, pool, 3, conflicts) == first


def test_fixed_members_are_kept_and_the_rest_is_solved_around_them() -> None:
    pool = [expert(f"{kind}{i}", kind) for kind in ("professor", "researcher", "principal") for i in range(3)]
    result = assign(candidates(4), pool, 3, fixed={"c0": ["professor0", "professor1"]})
    assert {"professor0", "professor1"} <= set(result.panels["c0"])
    assert all(len(set(kinds(p, pool))) == 3 for sid, p in result.panels.items() if sid != "c0")
    assert result.mixed_panels == 3
    assert sorted(result.loads.values()) == [1] * 6 + [2] * 3


def test_no_candidates_and_no_panel_seats_are_answered_too() -> None:
    pool = [expert("a"), expert("b")]
    assert assign([], pool, 3).loads == {"a": 0, "b": 0}
    result = assign(candidates(2), pool, 0)
    assert result.panels == {"c0": (), "c1": ()}
    assert result.cost == Cost(0, 0, 0)


def refusal(*args, **kwargs) -> AssignmentInfeasible:
    with pytest.raises(AssignmentInfeasible) as caught:
        assign(*args, **kwargs)
    return caught.value


def test_more_per_panel_than_experts_able_to_serve_is_refused_as_panel_size() -> None:
    refused = refusal(candidates(1), [expert("a"), expert("b"), expert("away", max_load=0)], 3)
    assert refused.constraint == "panel_size"
    assert refused.assessors == ["a", "b"]
    assert "3" in refused.message


def test_more_fixed_members_than_seats_is_refused_as_panel_size() -> None:
    refused = refusal(candidates(1), [expert("a"), expert("b"), expert("c")], 2, fixed={"c0": ["a", "b", "c"]})
    assert (refused.constraint, refused.subjects) == ("panel_size", ["c0"])


def test_too_little_load_in_all_is_refused_as_capacity() -> None:
    refused = refusal(candidates(5), [expert("a", max_load=3), expert("b", max_load=3)], 2)
    assert refused.constraint == "capacity"
    assert "10" in refused.message and "6" in refused.message


def test_an_expert_fixed_beyond_their_maximum_is_refused_as_capacity() -> None:
    pool = [expert("a", max_load=1), expert("b"), expert("c")]
    refused = refusal(candidates(2), pool, 1, fixed={"c0": ["a"], "c1": ["a"]})
    assert (refused.constraint, refused.assessors, refused.subjects) == ("capacity", ["a"], ["c0", "c1"])


def test_a_candidate_short_of_experts_free_of_conflict_is_named() -> None:
    pool = [expert("a"), expert("b"), expert("c")]
    refused = refusal(candidates(3), pool, 2, conflicts=[("c1", "a"), ("c1", "b"), ("c2", "c")])
    assert (refused.constraint, refused.subjects, refused.assessors) == ("conflicts", ["c1"], ["a", "b"])


def test_a_fixed_member_in_conflict_is_refused_as_conflicts() -> None:
    pool = [expert("a"), expert("b"), expert("c")]
    refused = refusal(candidates(1), pool, 2, conflicts=[("c0", "a")], fixed={"c0": ["a"]})
    assert (refused.constraint, refused.subjects, refused.assessors) == ("conflicts", ["c0"], ["a"])


def test_candidates_who_all_need_the_same_full_experts_are_named_from_the_min_cut() -> None:
    pool = [expert("a", max_load=1), expert("b", max_load=1), expert("c", max_load=5)]
    refused = refusal(candidates(3), pool, 1, conflicts=[(f"c{i}", "c") for i in range(3)])
    assert refused.constraint == "capacity_after_conflicts"
    assert (refused.subjects, refused.assessors) == (["c0", "c1", "c2"], ["a", "b"])
    assert "3 subject(s) need 3 more seats" in refused.message


@pytest.mark.parametrize("call", [
    lambda: assign(candidates(1), [expert("a")], -1),
    lambda: assign(candidates(1), [expert("a"), expert("a")], 1),
    lambda: assign(candidates(1), [expert("a", max_load=-1)], 1),
    lambda: assign(candidates(1), [expert("a")], 1, fixed={"c0": ["nobody"]}),
    lambda: assign(candidates(1), [expert("a")], 1, fixed={"nobody": ["a"]}),
])
def test_malformed_input_is_a_value_error(call) -> None:
    with pytest.raises(ValueError):
        call()

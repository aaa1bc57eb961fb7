"""services/mentoring/stable.py on random games (hypothesis), against the `matching` package's solver."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.mentoring.stable import Game, blocking_pairs, deferred_acceptance, passed_over
from tests.stable.reference import brute_blocking, package_matching


@st.composite
def games(draw: st.DrawFn, forcing: bool = False) -> Game:
    n_students = draw(st.integers(0, 12))
    n_mentors = draw(st.integers(1, 6))
    students = [f"s{i}" for i in range(n_students)]
    mentors = [f"m{j}" for j in range(n_mentors)]
    student_prefs = {s: draw(st.permutations(mentors).flatmap(lambda p: st.integers(0, len(p)).map(lambda k, p=p: p[:k])))
                     for s in students}
    # A mentor lists most of those who listed them and, now and then, someone who did not (or leaves someone out).
    mentor_prefs = {}
    for m in mentors:
        listed = [s for s in students if m in student_prefs[s] and draw(st.integers(0, 9)) > 0]
        extra = [s for s in students if s not in listed and draw(st.integers(0, 9)) == 0]
        mentor_prefs[m] = draw(st.permutations(listed + extra))
    capacity = {m: draw(st.integers(0, 3)) for m in mentors}
    pairs = [(s, m) for s in students for m in student_prefs[s]]
    banned = set(draw(st.lists(st.sampled_from(pairs), max_size=3))) if pairs else set()
    forced: dict[str, str] = {}
    if forcing and pairs:
        room = dict(capacity)
        for s, m in draw(st.lists(st.sampled_from([p for p in pairs if p not in banned] or pairs), max_size=3)):
            if s not in forced and room[m] > 0 and (s, m) not in banned:
                forced[s] = m
                room[m] -= 1
    return Game(student_prefs, mentor_prefs, capacity, frozenset(banned), forced)


def check_rules(game: Game, matching: dict) -> None:
    """Capacities held, bans respected, every unforced pair listed by both sides."""
    for m in game.mentors:
        assert sum(1 for n in matching.values() if n == m) <= game.capacity.get(m, 0)
    for s, m in matching.items():
        if s in game.forced:
            assert game.forced[s] == m
            continue
        assert (s, m) not in game.banned
        assert m in game.students[s] and s in game.mentors[m]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(games())
def test_the_matching_is_stable_keeps_capacities_and_bans_and_is_the_packages_student_optimal_one(game: Game) -> None:
    matching = deferred_acceptance(game)
    check_rules(game, matching)
    assert blocking_pairs(game, matching) == []
    assert brute_blocking(game, matching) == set()
    assert matching == package_matching(game)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(games(forcing=True))
def test_forced_pairs_are_kept_and_every_blocking_pair_they_leave_is_named(game: Game) -> None:
    matching = deferred_acceptance(game)
    check_rules(game, matching)
    assert matching == package_matching(game)
    named = blocking_pairs(game, matching)
    assert {(b.student, b.mentor) for b in named} == brute_blocking(game, matching)
    for b in named:
        # Only a forced pair leaves instability: the student was forced, or the mentor holds a forced student.
        assert b.forced or any(game.forced.get(o) == b.mentor for o in game.forced)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(games(), st.data())
def test_no_student_gains_by_ranking_other_than_truthfully(game: Game, data: st.DataObject) -> None:
    if not game.students:
        return
    s = data.draw(st.sampled_from(sorted(game.students)))
    truth = list(game.students[s])
    honest = deferred_acceptance(game).get(s)
    lie = data.draw(st.permutations(sorted(game.mentors)).flatmap(lambda p: st.integers(0, len(p)).map(lambda k, p=p: p[:k])))
    lied = deferred_acceptance(Game({**game.students, s: lie}, game.mentors, game.capacity, game.banned)).get(s)
    if lied is None or lied not in truth:
        return
    assert honest is not None and truth.index(honest) <= truth.index(lied)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(games())
def test_each_mentor_a_student_preferred_is_explained(game: Game) -> None:
    matching = deferred_acceptance(game)
    for s in game.students:
        for p in passed_over(game, matching, s):
            taken = [o for o, n in matching.items() if n == p.mentor]
            if p.reason == "full":
                assert len(taken) == game.capacity[p.mentor]
                assert p.mentor_rank is not None and p.last_taken_rank < p.mentor_rank
            elif p.reason == "not_ranked_by_mentor":
                assert s not in game.mentors[p.mentor]
            elif p.reason == "banned":
                assert (s, p.mentor) in game.banned
            else:
                assert p.reason == "no_places" and game.capacity[p.mentor] == 0

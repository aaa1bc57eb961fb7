"""services/mentoring/stable.py on games worked by hand, and the games it refuses."""

from __future__ import annotations

import pytest

from services.mentoring.stable import Blocking, Game, Passed, blocking_pairs, deferred_acceptance, passed_over

# Gale and Shapley (1962), example 1: three men, three women, each ranking all three of the other side.
MEN = {"alpha": ["A", "B", "C"], "beta": ["B", "C", "A"], "gamma": ["C", "A", "B"]}
WOMEN = {"A": ["beta", "gamma", "alpha"], "B": ["gamma", "alpha", "beta"], "C": ["alpha", "beta", "gamma"]}
ONE_EACH = {"A": 1, "B": 1, "C": 1}


def test_gale_shapley_example_1_the_proposing_side_gets_its_first_choices() -> None:
    assert deferred_acceptance(Game(MEN, WOMEN, ONE_EACH)) == {"alpha": "A", "beta": "B", "gamma": "C"}
    # The women proposing get theirs: each side's optimum is the other side's worst stable matching.
    women = deferred_acceptance(Game(WOMEN, MEN, dict.fromkeys(MEN, 1)))
    assert women == {"A": "beta", "B": "gamma", "C": "alpha"}


def test_gale_shapley_example_1_has_three_stable_matchings_and_no_other() -> None:
    game = Game(MEN, WOMEN, ONE_EACH)
    stable = {("A", "B", "C"), ("C", "A", "B"), ("B", "C", "A")}  # alpha's, beta's, gamma's partners
    from itertools import permutations
    for women in permutations("ABC"):
        matching = dict(zip(["alpha", "beta", "gamma"], women))
        assert (blocking_pairs(game, matching) == []) == (women in stable), women


# Capacities, worked by hand: X takes two, Y one.
#   a: X Y   b: X Y   c: X   d: Y X        X ranks d c b a;  Y ranks a b d
# a->X, b->X (X holds a b), c->X (X drops a), a->Y, d->Y (refused), d->X (X drops b), b->Y (refused).
STUDENTS = {"a": ["X", "Y"], "b": ["X", "Y"], "c": ["X"], "d": ["Y", "X"]}
MENTORS = {"X": ["d", "c", "b", "a"], "Y": ["a", "b", "d"]}
PLACES = {"X": 2, "Y": 1}


def test_a_mentor_with_two_places_keeps_the_two_they_rank_highest() -> None:
    game = Game(STUDENTS, MENTORS, PLACES)
    matching = deferred_acceptance(game)
    assert matching == {"a": "Y", "c": "X", "d": "X"}
    assert blocking_pairs(game, matching) == []
    # b is left out: X was full with d and c (ranked 1st and 2nd, b 3rd), Y with a (1st, b 2nd).
    assert passed_over(game, matching, "b") == [
        Passed("X", 0, "full", mentor_rank=2, last_taken_rank=1),
        Passed("Y", 1, "full", mentor_rank=1, last_taken_rank=0),
    ]
    # d got their second choice: Y took a, whom Y ranks first.
    assert passed_over(game, matching, "d") == [Passed("Y", 0, "full", mentor_rank=2, last_taken_rank=0)]


def test_a_ban_is_never_matched_and_the_rest_stay_stable() -> None:
    game = Game(STUDENTS, MENTORS, PLACES, banned={("d", "X")})
    matching = deferred_acceptance(game)
    # Without d, X keeps c and b; a goes to Y; d is left: Y prefers a, and d may not have X.
    assert matching == {"a": "Y", "b": "X", "c": "X"}
    assert blocking_pairs(game, matching) == []
    assert passed_over(game, matching, "d") == [
        Passed("Y", 0, "full", mentor_rank=2, last_taken_rank=0),
        Passed("X", 1, "banned", mentor_rank=0),
    ]


def test_a_forced_pair_is_kept_and_the_stability_it_gives_up_is_named() -> None:
    game = Game(STUDENTS, MENTORS, PLACES, forced={"b": "Y"})
    matching = deferred_acceptance(game)
    # Y's one place goes to b; X keeps d and c, whom X ranks above a; a is left out.
    assert matching == {"b": "Y", "c": "X", "d": "X"}
    # Y would rather have a (ranked 1st) than the forced b (2nd), and a would rather have Y than nothing.
    assert blocking_pairs(game, matching) == [Blocking("a", "Y", student_rank=1, mentor_rank=0, forced=False)]
    assert passed_over(game, matching, "a") == [
        Passed("X", 0, "full", mentor_rank=3, last_taken_rank=1),
        Passed("Y", 1, "place_forced", mentor_rank=0, last_taken_rank=1),
    ]
    # Forcing a pair the stable matching has anyway costs nothing.
    other = Game(STUDENTS, MENTORS, PLACES, forced={"c": "X"})
    assert deferred_acceptance(other) == {"a": "Y", "c": "X", "d": "X"}
    assert blocking_pairs(other, deferred_acceptance(other)) == []


def test_a_student_a_mentor_does_not_list_is_never_theirs() -> None:
    game = Game({"a": ["X"], "b": ["X"]}, {"X": ["b"]}, {"X": 2})
    matching = deferred_acceptance(game)
    assert matching == {"b": "X"}
    assert passed_over(game, matching, "a") == [Passed("X", 0, "not_ranked_by_mentor")]


def test_a_mentor_without_places_takes_no_one() -> None:
    game = Game({"a": ["X", "Y"]}, {"X": ["a"], "Y": ["a"]}, {"X": 0, "Y": 1})
    assert deferred_acceptance(game) == {"a": "Y"}
    assert passed_over(game, {"a": "Y"}, "a") == [Passed("X", 0, "no_places", mentor_rank=0)]


@pytest.mark.parametrize("game, words", [
    (lambda: Game({"a": ["X"]}, {"X": ["a"]}, {"X": 1}, forced={"z": "X"}), "forced student 'z' is not in the game"),
    (lambda: Game({"a": ["X"]}, {"X": ["a"]}, {"X": 1}, forced={"a": "Z"}), "forced mentor 'Z' is not in the game"),
    (lambda: Game({"a": ["X"]}, {"X": ["a"]}, {"X": 1}, banned={("a", "X")}, forced={"a": "X"}), "both forced and banned"),
    (lambda: Game({"a": [], "b": []}, {"X": []}, {"X": 1}, forced={"a": "X", "b": "X"}), "2 students forced on 'X', who takes 1"),
    (lambda: Game({"a": ["X", "X"]}, {"X": ["a"]}, {"X": 1}), "student 'a' lists someone twice"),
    (lambda: Game({"a": ["X"]}, {"X": ["a", "a"]}, {"X": 1}), "mentor 'X' lists someone twice"),
    (lambda: Game({"a": ["X"]}, {"X": ["a"]}, {"X": -1}), "mentor 'X' has a negative capacity"),
])
def test_a_game_that_breaks_its_own_rules_is_refused(game, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        game()

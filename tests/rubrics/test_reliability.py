"""Reliability: Krippendorff's alpha equals the `krippendorff` package's, missing ratings included; the disagreement rule."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.rubrics.reliability import disagreements, krippendorff_alpha_interval

PROPERTY = settings(database=None, deadline=None, max_examples=300)


def reference(ratings: list[list[float | None]]) -> float | None:
    """The package's alpha (np.nan is its missing value); None where it finds alpha undefined."""
    data = np.array([[np.nan if x is None else x for x in row] for row in ratings], dtype=float)
    try:
        # 0/0 (nan) when the pairable values are all equal but a value outside them is not.
        with np.errstate(invalid="ignore"):
            value = krippendorff.alpha(reliability_data=data, level_of_measurement="interval")
    except ValueError:  # "more than one value in the domain", "a unit with values ... by at least two coders"
        return None
    return None if math.isnan(value) else float(value)


@st.composite
def matrices(draw: st.DrawFn, values: st.SearchStrategy[float]) -> list[list[float | None]]:
    raters = draw(st.integers(2, 6))
    units = draw(st.integers(1, 25))
    missing = draw(st.floats(0, 0.7))
    cell = st.one_of(st.none(), values) if missing else values
    return [[draw(cell) if draw(st.floats(0, 1)) >= missing else None for _ in range(units)] for _ in range(raters)]


SCALE_POINTS = st.integers(0, 10).map(float)  # scores on a rubric's steps: many ties
ANY_SCORES = st.floats(-1000, 1000, allow_nan=False).map(lambda v: round(v, 3))  # mostly distinct


@PROPERTY
@given(st.one_of(matrices(SCALE_POINTS), matrices(ANY_SCORES)))
def test_alpha_equals_the_krippendorff_package(ratings: list[list[float | None]]) -> None:
    ours, theirs = krippendorff_alpha_interval(ratings), reference(ratings)
    if theirs is None:
        assert ours is None
    else:
        assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-9)


def test_krippendorffs_own_example() -> None:
    """Four coders, twelve units (Krippendorff, Computing Krippendorff's Alpha-Reliability, 2011): interval alpha 0.849."""
    ratings = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    ]
    assert krippendorff_alpha_interval(ratings) == pytest.approx(0.849, abs=5e-4)


def test_a_unit_with_one_value_drops_out() -> None:
    ratings = [[1, 4, 2, 7], [2, 4, 3, None]]
    with_lone_unit = [[*ratings[0], 9], [*ratings[1], None]]
    assert krippendorff_alpha_interval(with_lone_unit) == pytest.approx(krippendorff_alpha_interval(ratings))


def test_perfect_agreement_is_one_and_shifted_raters_are_penalised() -> None:
    assert krippendorff_alpha_interval([[1, 5, 9], [1, 5, 9], [1, None, 9]]) == 1.0
    assert krippendorff_alpha_interval([[1, 5, 9], [3, 7, 11]]) < 1.0


@pytest.mark.parametrize("ratings", [
    [],
    [[]],
    [[1.0, 2.0, 3.0]],  # one rater: no pair anywhere
    [[1.0, None], [None, 2.0]],  # values, but never two in one unit
    [[4.0, 4.0, None], [4.0, 4.0, 4.0]],  # no variance
])
def test_alpha_is_none_where_it_is_undefined(ratings: list[list[float | None]]) -> None:
    assert krippendorff_alpha_interval(ratings) is None


@pytest.mark.parametrize("bad", [math.nan, math.inf, True, "3"])
def test_alpha_refuses_a_value_that_is_no_number(bad: object) -> None:
    with pytest.raises(ValueError, match="finite number or None"):
        krippendorff_alpha_interval([[1.0, bad], [2.0, 3.0]])  # type: ignore[list-item]


def test_alpha_refuses_rows_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="one entry per unit"):
        krippendorff_alpha_interval([[1.0, 2.0], [1.0]])


# ---------------------------------------------------------------- who goes to adjudication


def test_subjects_whose_spread_exceeds_the_threshold_are_flagged_in_order() -> None:
    scores = {"zhang": [80, 60, 75], "li": [70, 72], "wang": [50, 65], "zhao": [90], "chen": [], "liu": [61, 81]}
    assert disagreements(scores, 15) == ["zhang", "liu"]  # wang's spread is exactly 15: not beyond
    assert disagreements(scores, 0) == ["zhang", "li", "wang", "liu"]


@pytest.mark.parametrize("threshold", [-1, math.nan, math.inf, True])
def test_a_threshold_that_is_no_distance_is_refused(threshold: object) -> None:
    with pytest.raises(ValueError, match="threshold"):
        disagreements({"a": [1, 2]}, threshold)  # type: ignore[arg-type]


def test_a_rating_that_is_no_number_is_refused() -> None:
    with pytest.raises(ValueError, match="'a'"):
        disagreements({"a": [1.0, math.nan]}, 1.0)

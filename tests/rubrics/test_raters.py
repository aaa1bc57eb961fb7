"""Rater effects: the fit finds known severities within noise, equals a dense least-squares solve,
does not penalise a rater who got the stronger subjects, and answers degenerate panels sensibly."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.rubrics.raters import RaterFit, fit_rater_effects
from tests.rubrics.support import generated_panel, scored

PROPERTY = settings(database=None, deadline=None, max_examples=150)


# ---------------------------------------------------------------- the truth, within noise


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fitted_severities_match_the_truth_within_noise(seed: int) -> None:
    """Each rating informs its rater's effect only through its difference from the subject's other
    k - 1 ratings (the subject's mean absorbs 1/k of it), so with n_j ratings the effect's standard
    error is about sd / sqrt(n_j (k - 1) / k): 0.2 points here, against effects of sd 3. Four
    standard errors leave each rater a two-sided chance of 6e-5 of failing (under 0.3% for all
    40 together), and the seeds are fixed, so the test is exact about what it checks and cannot
    pass with effects that are off by more than noise allows."""
    k, sd = 3, 2.0
    panel = generated_panel(subjects=2000, raters=40, per_subject=k, seed=seed, noise_sd=sd)
    fit = fit_rater_effects(panel.ratings)
    standard_error = sd / np.sqrt(panel.ratings_per_rater() * (k - 1) / k)

    fitted = np.array([fit.severity[r] for r in range(40)])
    assert np.all(np.abs(fitted - (-panel.effect)) < 4 * standard_error)
    # The fit's own standard errors agree with that approximation.
    reported = np.array([fit.severity_se[r] for r in range(40)])
    assert np.allclose(reported, standard_error, rtol=0.1)
    # The residual sd estimates the noise: with ~4,000 df its own error is ~1.1%, so 5% is >4 of those.
    assert fit.residual_sd == pytest.approx(sd, rel=0.05)
    assert fit.df == 6000 - (2000 + 40 - 1) and fit.components == 1 and not fit.single_rater


def test_corrected_scores_are_closer_to_the_truth_than_raw_means() -> None:
    """With the effects removed a subject's error is the noise of its k ratings (sd / sqrt(k) = 1.15);
    its raw mean adds the mean of its raters' effects (sd 3 / sqrt(3) = 1.7) on top."""
    panel = generated_panel(subjects=2000, raters=40, per_subject=3, seed=7)
    fit = fit_rater_effects(panel.ratings)
    corrected = np.array([fit.corrected[s] for s in range(2000)])
    raw = np.bincount([s for s, _, _ in panel.ratings], weights=[y for _, _, y in panel.ratings]) / 3

    def rms(error: np.ndarray) -> float:
        return float(np.sqrt((error**2).mean()))

    assert rms(corrected - panel.true_score) < 1.2 * panel.noise_sd / math.sqrt(3)
    assert rms(raw - panel.true_score) > 1.5 * rms(corrected - panel.true_score)
    assert fit.mu[0] == pytest.approx(panel.level, abs=0.2)


# ---------------------------------------------------------------- the dense reference


def _components(ratings: list[tuple[int, int, float]]) -> tuple[dict[int, int], dict[int, int]]:
    """Union-find over subjects and raters, independent of the fit: each subject's and each rater's component."""
    parent: dict[tuple[str, int], tuple[str, int]] = {}

    def root(x: tuple[str, int]) -> tuple[str, int]:
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    for s, r, _ in ratings:
        parent[root(("subject", s))] = root(("rater", r))
    number: dict[tuple[str, int], int] = {}
    for s, _, _ in ratings:
        number.setdefault(root(("subject", s)), len(number))
    return ({s: number[root(("subject", s))] for s, _, _ in ratings},
            {r: number[root(("rater", r))] for _, r, _ in ratings})


def _dense_reference(ratings: list[tuple[int, int, float]]) -> dict:
    """numpy.linalg.lstsq on the explicit design matrix [mu_c | a_s | b_j], with the constraints
    (sum a = 0 and sum b = 0 in each component) as extra rows: they only pick one of the equally
    good solutions, so the one that meets them exactly is the stacked system's least squares."""
    subject_component, rater_component = _components(ratings)
    subjects = sorted({s for s, _, _ in ratings})
    raters = sorted({r for _, r, _ in ratings})
    count = max(subject_component.values()) + 1
    col_s = {s: count + i for i, s in enumerate(subjects)}
    col_r = {r: count + len(subjects) + i for i, r in enumerate(raters)}
    width = count + len(subjects) + len(raters)
    x = np.zeros((len(ratings), width))
    for row, (s, r, _) in enumerate(ratings):
        x[row, [subject_component[s], col_s[s], col_r[r]]] = 1.0
    constraints = np.zeros((2 * count, width))
    for s in subjects:
        constraints[2 * subject_component[s], col_s[s]] = 1.0
    for r in raters:
        constraints[2 * rater_component[r] + 1, col_r[r]] = 1.0
    y = np.array([score for _, _, score in ratings])
    solution = np.linalg.lstsq(np.vstack([x, constraints]), np.concatenate([y, np.zeros(2 * count)]), rcond=None)[0]
    assert np.allclose(constraints @ solution, 0, atol=1e-9)
    residuals = y - x @ solution
    df = len(ratings) - np.linalg.matrix_rank(x)
    return {
        "mu": {s: solution[subject_component[s]] for s in subjects},
        "ability": {s: solution[col_s[s]] for s in subjects},
        "effect": {r: solution[col_r[r]] for r in raters},
        "residuals": residuals,
        "df": df,
        "components": count,
    }


def _assert_equals_reference(fit: RaterFit, ratings: list[tuple[int, int, float]]) -> None:
    ref = _dense_reference(ratings)
    tol = 1e-8
    assert fit.components == ref["components"] and fit.df == ref["df"]
    for s, a in ref["ability"].items():
        assert fit.ability[s] == pytest.approx(a, abs=tol)
        assert fit.mu[fit.subject_component[s]] == pytest.approx(ref["mu"][s], abs=tol)
        assert fit.corrected[s] == pytest.approx(ref["mu"][s] + a, abs=tol)
    for r, b in ref["effect"].items():
        assert fit.effect[r] == pytest.approx(b, abs=tol)
    residuals = np.array([y - fit.corrected[s] - fit.effect[r] for s, r, y in ratings])
    assert np.allclose(residuals, ref["residuals"], atol=tol)
    if fit.df > 0:
        assert fit.residual_sd == pytest.approx(math.sqrt(ref["residuals"] @ ref["residuals"] / ref["df"]), abs=tol)


@pytest.mark.parametrize("seed", [11, 12])
def test_the_fit_equals_a_dense_least_squares_solve_on_generated_data(seed: int) -> None:
    """A connected panel, then the same with a second panel beside it, a rater alone with their
    own subjects, subjects scored once, and a subject scored twice by one rater."""
    panel = generated_panel(subjects=300, raters=12, per_subject=3, seed=seed)
    _assert_equals_reference(fit_rater_effects(panel.ratings), panel.ratings)

    other = generated_panel(subjects=40, raters=4, per_subject=2, seed=seed + 100)
    beside = [(s + 300, r + 12, y) for s, r, y in other.ratings]
    alone = [(400, 20, 71.0), (401, 20, 64.5)]
    once = [(500, 3, 55.0), (501, 7, 80.0)]
    twice = [(0, panel.ratings[0][1], panel.ratings[0][2] + 1.5)]
    ratings = panel.ratings + beside + alone + once + twice
    fit = fit_rater_effects(ratings)
    _assert_equals_reference(fit, ratings)
    assert fit.components == 3
    assert fit.single_rater == {400, 401, 500, 501}


@st.composite
def assignments(draw: st.DrawFn) -> list[tuple[int, int, float]]:
    """Any small set of ratings: some subjects scored once, several components, repeats allowed."""
    subjects = draw(st.integers(1, 12))
    raters = draw(st.integers(1, 6))
    rating = st.tuples(st.integers(0, subjects - 1), st.integers(0, raters - 1),
                       st.floats(-100, 100, allow_nan=False).map(lambda v: round(v, 2)))
    return draw(st.lists(rating, min_size=1, max_size=40))


@PROPERTY
@given(assignments())
def test_the_fit_equals_a_dense_least_squares_solve_on_any_assignment(ratings: list[tuple[int, int, float]]) -> None:
    _assert_equals_reference(fit_rater_effects(ratings), ratings)


# ---------------------------------------------------------------- z-scores


def test_z_scores_penalise_a_rater_who_got_stronger_subjects_and_the_additive_model_does_not() -> None:
    """Six raters, none severe; rater 0 scores the strongest quarter of 600 subjects (each with two
    other raters), the rest are scored by three of raters 1-5. Standardising each rater's
    scores sets rater 0's subjects' mean to 0 in rater 0's column, while the other raters place
    the same subjects well above 0; the additive model sees rater 0 as the average rater."""
    rng = np.random.default_rng(5)
    ability = rng.normal(0.0, 5.0, 600)
    strongest = np.argsort(ability)[-150:]
    chosen = np.array([
        [0, *rng.choice(np.arange(1, 6), 2, replace=False)] if s in set(strongest) else rng.choice(np.arange(1, 6), 3, replace=False)
        for s in range(600)
    ])
    ratings = scored(chosen, 60.0, ability, np.zeros(6), 1.0, rng)
    y = np.array([score for _, _, score in ratings])
    rater = np.array([r for _, r, _ in ratings])
    subject = np.array([s for s, _, _ in ratings])
    z = np.empty_like(y)
    for r in range(6):
        z[rater == r] = (y[rater == r] - y[rater == r].mean()) / y[rater == r].std()

    by_rater_0 = z[rater == 0]
    of_the_same_by_others = z[np.isin(subject, strongest) & (rater != 0)]
    assert abs(by_rater_0.mean()) < 1e-12
    assert of_the_same_by_others.mean() > 1.0  # the same subjects, a standard deviation higher elsewhere

    fit = fit_rater_effects(ratings)
    # The raw means say rater 0 is lenient by many points; the model says they are not.
    assert y[rater == 0].mean() - y[rater != 0].mean() > 5.0
    assert abs(fit.severity[0]) < 4 * fit.severity_se[0]
    corrected = np.array([fit.corrected[s] for s in strongest])
    # Noise of a subject's three ratings: 1 / sqrt(3) each, so 4 / sqrt(3 * 150) over the mean of 150.
    assert abs((corrected - (60.0 + ability[strongest])).mean()) < 4 / math.sqrt(3 * 150)


# ---------------------------------------------------------------- degenerate panels


def test_no_ratings_give_an_empty_fit() -> None:
    fit = fit_rater_effects([])
    assert (fit.mu, fit.ability, fit.effect, fit.corrected, fit.corrections) == ((), {}, {}, {}, ())
    assert (fit.components, fit.df, fit.residual_sd, fit.r_squared) == (0, 0, None, None)


def test_one_rater_has_no_effect_and_subjects_keep_their_mean() -> None:
    fit = fit_rater_effects([("li", "wang", 70.0), ("li", "wang", 74.0), ("zhao", "wang", 60.0)])
    assert fit.effect == {"wang": 0.0} and fit.severity == {"wang": 0.0} and fit.severity_se == {"wang": None}
    assert fit.corrected == {"li": 72.0, "zhao": 60.0}
    assert fit.mu == (66.0,) and fit.ability == {"li": 6.0, "zhao": -6.0}
    assert fit.single_rater == {"li", "zhao"} and fit.df == 1 and fit.residual_sd == pytest.approx(math.sqrt(8.0))


def test_a_subject_scored_once_fits_exactly_and_is_named() -> None:
    ratings = [("a", "x", 80.0), ("a", "y", 70.0), ("b", "x", 60.0), ("b", "y", 50.0), ("c", "y", 65.0)]
    fit = fit_rater_effects(ratings)
    assert fit.single_rater == {"c"}
    assert fit.severity == {"x": -5.0, "y": 5.0}
    assert fit.corrected["c"] == pytest.approx(65.0 + 5.0)  # its rating, with rater y's severity taken out
    assert fit.corrections == (-5.0, 5.0, -5.0, 5.0, 5.0)
    assert fit.r_squared == pytest.approx(1.0)


def test_no_degrees_of_freedom_leave_the_sd_undefined() -> None:
    fit = fit_rater_effects([("a", "x", 80.0), ("a", "y", 70.0)])
    assert fit.df == 0 and fit.residual_sd is None and fit.severity_se == {"x": None, "y": None}
    assert fit.severity == {"x": pytest.approx(-5.0), "y": pytest.approx(5.0)}


def test_all_ratings_equal_leave_r_squared_undefined() -> None:
    fit = fit_rater_effects([("a", "x", 7.5), ("a", "y", 7.5), ("b", "x", 7.5), ("b", "y", 7.5)])
    assert fit.r_squared is None and fit.residual_sd == 0.0 and fit.corrected == {"a": 7.5, "b": 7.5}


def test_components_are_numbered_as_they_first_appear() -> None:
    ratings = [("p", "u", 1.0), ("q", "v", 2.0), ("q", "w", 4.0), ("r", "u", 3.0)]
    fit = fit_rater_effects(ratings)
    assert fit.components == 2 and fit.mu == (2.0, 3.0)
    assert fit.subject_component == {"p": 0, "q": 1, "r": 0}
    assert fit.rater_component == {"u": 0, "v": 1, "w": 1}


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_score_that_is_no_number_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        fit_rater_effects([("a", "x", 1.0), ("a", "y", bad)])

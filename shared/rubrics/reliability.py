"""How far raters agree: Krippendorff's alpha (interval metric, missing ratings allowed), and the subjects to adjudicate.

Alpha is 1 - D_o / D_e: the disagreement observed between raters of the same unit over the
disagreement expected between any two values at all. Its definition goes through the
coincidence matrix: within a unit holding m_u >= 2 values (units with fewer drop out: they
have no pair), every ordered pair of values (c, k) from two different raters adds
1 / (m_u - 1) to o_ck, so that each value counts once; n_c = sum_k o_ck, n = sum_c n_c (the
pairable values), and

    D_o = sum_ck o_ck d(c, k) / n        D_e = sum_ck n_c n_k d(c, k) / (n (n - 1))

For the interval metric d(c, k) = (c - k)^2, and both sums reduce to squared deviations, so the
values-by-values matrix is never built (it would be quadratic in the distinct values, and
continuous scores are mostly distinct): the ordered pairs of m values have
sum (x_i - x_j)^2 = 2 m SS (SS the sum of squares about their mean), hence

    sum_ck o_ck d(c, k) = sum_u 2 m_u SS_u / (m_u - 1)        sum_ck n_c n_k d(c, k) = 2 n SS

(SS over all pairable values), computed in one pass over a raters x units array.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

import numpy as np

from shared.rubrics import finite_number

S = TypeVar("S", bound=Hashable)


def krippendorff_alpha_interval(ratings: Sequence[Sequence[float | None]]) -> float | None:
    """Alpha over `ratings` (one row per rater, one column per unit, None where a rater gave none).

    None when alpha is undefined: no unit has two values, or all the pairable values are equal
    (no variance, so no expected disagreement). Rows of different lengths, or a value that is
    not a finite number (NaN, an infinity, a bool), are refused with ValueError: NaN is not
    taken for a missing rating, so that a broken number is never quietly left out.
    """
    values, present = _matrix(ratings)
    per_unit = present.sum(axis=0)
    pairable = per_unit >= 2
    if not pairable.any():
        return None
    values, present, per_unit = values[:, pairable], present[:, pairable], per_unit[pairable]
    pooled = values[present]
    if np.ptp(pooled) == 0:
        return None
    unit_mean = values.sum(axis=0, where=present) / per_unit
    unit_ss = (((values - unit_mean) ** 2) * present).sum(axis=0)
    n = len(pooled)
    observed = float((per_unit * unit_ss / (per_unit - 1)).sum()) / n
    expected = float(((pooled - pooled.mean()) ** 2).sum()) / (n - 1)
    return 1.0 - observed / expected


def disagreements(ratings_by_subject: Mapping[S, Sequence[float]], threshold: float) -> list[S]:
    """The subjects whose raters disagree beyond `threshold`: highest minus lowest rating strictly
    above it, in the mapping's order. A subject with fewer than two ratings has no disagreement.

    `threshold` must be a finite number >= 0, and every rating finite (ValueError otherwise).
    """
    if not finite_number(threshold) or threshold < 0:
        raise ValueError(f"the threshold must be a finite number >= 0, not {threshold!r}")
    flagged = []
    for subject, scores in ratings_by_subject.items():
        if not all(finite_number(x) for x in scores):
            raise ValueError(f"a rating of {subject!r} is not a finite number")
        if len(scores) >= 2 and max(scores) - min(scores) > threshold:
            flagged.append(subject)
    return flagged


def _matrix(ratings: Sequence[Sequence[float | None]]) -> tuple[np.ndarray, np.ndarray]:
    """The ratings as a raters x units array of floats (0 where missing), and where they are present."""
    width = len(ratings[0]) if ratings else 0
    if any(len(row) != width for row in ratings):
        raise ValueError("every rater's row must have one entry per unit")
    values = np.zeros((len(ratings), width))
    present = np.zeros((len(ratings), width), dtype=bool)
    for rater, row in enumerate(ratings):
        for unit, x in enumerate(row):
            if x is None:
                continue
            if not finite_number(x):
                raise ValueError(f"a rating must be a finite number or None, not {x!r}")
            values[rater, unit], present[rater, unit] = float(x), True
    return values, present

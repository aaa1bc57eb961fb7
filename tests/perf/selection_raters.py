"""Selection's rater-effects fit at the programme's scale: 15,000 interview scores, 5,000 candidates, 60 experts.

One piece of `bench selection` (issue 8: the fit under 1 s). `measure_rater_fit()` generates a
panel with known abilities and severities (tests/rubrics/support.py: each candidate scored by
3 of the 60 experts, drawn at random), then times `fit_rater_effects` on it, the call a
service makes with its (candidate, expert, score) rows, from Python tuples to the finished
`RaterFit`: the median of `runs`. The comparison, timed on the same ratings in the same runs,
is what the fit replaces: per-expert z-scores (numpy, vectorised), which cost almost nothing
and get an expert with stronger candidates wrong (tests/rubrics/test_raters.py).

It returns one figure as the fields of a `Figure` (tests/perf/harness.py), for the benchmark
that writes it (`Figure(..., Comparison(**comparison), Target(**target), details)`):

    {"name": "rater_fit", "value": ms, "unit": "ms",
     "comparison": {"name": "per_expert_z_scores", "value": ms},
     "target": {"of": "value", "direction": "below", "value": 1000.0},
     "details": {sizes, every run's ms, and how far the fitted severities are from the truth}}
"""

from __future__ import annotations

import json
import statistics
import time

import numpy as np

from shared.rubrics.raters import fit_rater_effects
from tests.rubrics.support import generated_panel

TARGET_MS = 1000.0


def _z_scores(ratings: list[tuple[int, int, float]], raters: int) -> np.ndarray:
    """Each score standardised within its expert's scores: the method the additive model replaces."""
    expert = np.fromiter((r for _, r, _ in ratings), dtype=np.intp, count=len(ratings))
    score = np.fromiter((y for _, _, y in ratings), dtype=float, count=len(ratings))
    count = np.bincount(expert, minlength=raters)
    mean = np.bincount(expert, weights=score, minlength=raters) / count
    sd = np.sqrt(np.bincount(expert, weights=(score - mean[expert]) ** 2, minlength=raters) / count)
    return (score - mean[expert]) / sd[expert]


def _ms(call) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = call()
    return (time.perf_counter() - t0) * 1000, result


def measure_rater_fit(*, candidates: int = 5000, experts: int = 60, per_candidate: int = 3, runs: int = 5,
                      seed: int = 8) -> dict:
    """The fit's median time over `runs` (each run times the z-scores, then the fit), as a figure record."""
    panel = generated_panel(subjects=candidates, raters=experts, per_subject=per_candidate, seed=seed)
    fit_ms, z_ms = [], []
    for _ in range(runs):
        z_ms.append(_ms(lambda: _z_scores(panel.ratings, experts))[0])
        elapsed, fit = _ms(lambda: fit_rater_effects(panel.ratings))
        fit_ms.append(elapsed)
    error = np.array([fit.severity[e] + panel.effect[e] for e in range(experts)])
    se = np.array([fit.severity_se[e] for e in range(experts)])
    return {
        "name": "rater_fit",
        "value": round(statistics.median(fit_ms), 2),
        "unit": "ms",
        "comparison": {"name": "per_expert_z_scores", "value": round(statistics.median(z_ms), 2)},
        "target": {"of": "value", "direction": "below", "value": TARGET_MS},
        "details": {
            "ratings": len(panel.ratings), "candidates": candidates, "experts": experts, "per_candidate": per_candidate,
            "runs": runs, "ms_by_run": [round(ms, 2) for ms in fit_ms],
            "noise_sd": panel.noise_sd, "residual_sd": round(fit.residual_sd, 4),
            "severity_max_error": round(float(np.abs(error).max()), 4),
            "severity_max_error_in_se": round(float((np.abs(error) / se).max()), 2),
        },
    }


if __name__ == "__main__":
    print(json.dumps(measure_rater_fit(), indent=2))

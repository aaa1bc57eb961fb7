"""Rubrics: the criteria a stage is scored on, the check of one rater's scores, and their weighted total.

Selection's interviews and mentoring's defenses score people on criteria with weights and
scales; both store a rubric as JSON (these models) and show it in their API schemas, and both
check a rater's scores the same way before keeping them. The check answers every problem at
once (a rater fixes a form in one go), each as a `ScoreError` naming the criterion, a stable
reason and the scale, which the service turns into its own problem+json.

Numbers in a rubric are strict (a boolean is not a weight) and finite, and a scale's bounds
are kept within +-1e6 so that no sum over them can overflow. A step must divide the scale
(0 to 10 in steps of 0.5, not of 3), so that both ends of a scale are on it.

The rater-effects fit (`shared.rubrics.raters`) and Krippendorff's alpha
(`shared.rubrics.reliability`) work on the numbers this module lets through.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from numbers import Integral, Real
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from shared.strict import RequestModel, name_type

SCALE_BOUND = 1e6
# A scale has at most this many steps: step counts stay exact in floating point.
MAX_STEPS = 1_000_000
# How far from a step (as a fraction of the step) a score may be and still be on it: 0.1 + 0.2
# is on a 0.1 scale, though it is 0.30000000000000004.
STEP_TOLERANCE = 1e-6

Number = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-SCALE_BOUND, le=SCALE_BOUND)]
Title = name_type(200)
ScoreProblem = Literal["missing", "unknown", "out_of_scale", "off_step", "not_finite"]


class CriterionShape(RequestModel):
    """A criterion as a request states it: each field within its bounds (what a schema can say)."""

    key: str = Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$",
                     description="A lower_snake slug, unique in its rubric: the key a rater's scores use.")
    title: Title
    weight: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0, le=100)]
    min: Number = 0.0
    max: Number
    step: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0, le=2 * SCALE_BOUND)] | None = None


class RubricShape(RequestModel):
    """A rubric as a request states it; `Rubric.model_validate(shape.model_dump())` checks the rest
    (a scale that holds, unique keys) and a route answers that with its own problem code."""

    criteria: list[CriterionShape] = Field(min_length=1, max_length=30, description="Unique keys; each max above its min, its step dividing the scale.")


class Criterion(CriterionShape):
    """One thing a rater scores, on a scale from `min` to `max` (in `step`s, when given), weighing `weight`."""

    @model_validator(mode="after")
    def _scale_holds(self) -> Self:
        if self.max <= self.min:
            raise PydanticCustomError("scale_empty", "max ({max}) must be above min ({min})", {"min": self.min, "max": self.max})
        if self.step is not None:
            steps = (self.max - self.min) / self.step
            if steps > MAX_STEPS or abs(steps - round(steps)) > STEP_TOLERANCE:
                raise PydanticCustomError(
                    "step_uneven", "step {step} must divide the scale {min}..{max} into at most {most} steps",
                    {"step": self.step, "min": self.min, "max": self.max, "most": MAX_STEPS},
                )
        return self

    def problem(self, value: object) -> ScoreProblem | None:
        """Why `value` is not a score on this criterion's scale, or None when it is."""
        if not finite_number(value):
            return "not_finite"
        if not self.min <= value <= self.max:  # type: ignore[operator]
            return "out_of_scale"
        if self.step is not None:
            steps = (float(value) - self.min) / self.step  # type: ignore[arg-type]
            if abs(steps - round(steps)) > STEP_TOLERANCE:
                return "off_step"
        return None


@dataclass(frozen=True)
class ScoreError:
    """One problem with a rater's scores: which criterion, why, and the scale it is scored on
    (`min`, `max` and `step` are None for a key the rubric does not have)."""

    criterion: str
    reason: ScoreProblem
    min: float | None = None
    max: float | None = None
    step: float | None = None


class ScoresInvalid(ValueError):
    """Scores that did not pass `Rubric.check`, with its errors: a total is only taken of valid scores."""

    def __init__(self, errors: list[ScoreError]) -> None:
        super().__init__("; ".join(f"{e.criterion}: {e.reason}" for e in errors))
        self.errors = errors


class Rubric(RequestModel):
    """The criteria of a stage (an interview, a defense), 1 to 30 with unique keys."""

    criteria: list[Criterion] = Field(min_length=1, max_length=30)

    @field_validator("criteria")
    @classmethod
    def _keys_unique(cls, criteria: list[Criterion]) -> list[Criterion]:
        seen: set[str] = set()
        for criterion in criteria:
            if criterion.key in seen:
                raise PydanticCustomError("criterion_duplicate", "criterion {key} appears twice", {"key": criterion.key})
            seen.add(criterion.key)
        return criteria

    def check(self, scores: Mapping[str, object]) -> list[ScoreError]:
        """Every problem with one rater's scores, in the rubric's order, unknown keys last; [] when they are valid.

        Each criterion must be scored, with a finite number (a bool, a string, NaN or an
        infinity is `not_finite`: it is no number a rater gave), within its scale, on its step.
        """
        errors = []
        for c in self.criteria:
            if c.key not in scores:
                reason: ScoreProblem | None = "missing"
            else:
                reason = c.problem(scores[c.key])
            if reason is not None:
                errors.append(ScoreError(c.key, reason, c.min, c.max, c.step))
        known = {c.key for c in self.criteria}
        errors.extend(ScoreError(str(key), "unknown") for key in scores if key not in known)
        return errors

    def total(self, scores: Mapping[str, object]) -> float:
        """The weighted total on 0..100: each score placed on 0..1 within its scale, weighted,
        averaged over the weights. Raises `ScoresInvalid` for scores `check` refuses."""
        errors = self.check(scores)
        if errors:
            raise ScoresInvalid(errors)
        weighted = sum(c.weight * (float(scores[c.key]) - c.min) / (c.max - c.min) for c in self.criteria)  # type: ignore[arg-type]
        return 100.0 * weighted / sum(c.weight for c in self.criteria)


def problem_errors(errors: list[ScoreError], field: str = "scores") -> list[dict[str, object]]:
    """`check`'s errors as a problem's `errors` list: each located in the body's `field`, with its reason and scale."""
    return [{"loc": ["body", field, e.criterion], "field": e.criterion, "type": e.reason,
             "message": f"{e.criterion}: {e.reason.replace('_', ' ')}" + (f" (scale {e.min} to {e.max})" if e.min is not None else "")}
            for e in errors]


def finite_number(value: object) -> bool:
    """A real number that is not a bool, NaN or an infinity (an int of any size is finite)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, Decimal):
        return value.is_finite()
    if isinstance(value, Integral):
        return True
    return isinstance(value, Real) and math.isfinite(value)

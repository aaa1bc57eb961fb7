"""Rubrics: what a rubric may be, every way a rater's scores can be wrong (all named at once), and the weighted total."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from pydantic import ValidationError

from shared.rubrics import Criterion, Rubric, ScoreError, ScoresInvalid

INTERVIEW = Rubric(criteria=[
    Criterion(key="reasoning", title="数学推理", weight=3, max=10, step=0.5),
    Criterion(key="creativity", title="Creativity", weight=1, min=1, max=5, step=1),
    Criterion(key="expression", title="表达", weight=1, max=1),
])
VALID = {"reasoning": 8.5, "creativity": 4, "expression": 0.25}


def criterion(**fields) -> dict:
    return {"key": "reasoning", "title": "Reasoning", "weight": 1, "max": 10, **fields}


# ---------------------------------------------------------------- the rubric itself


def test_a_rubric_survives_its_json_and_shows_its_rules_in_the_schema() -> None:
    assert Rubric.model_validate_json(INTERVIEW.model_dump_json()) == INTERVIEW
    schema = Rubric.model_json_schema()["$defs"]["Criterion"]["properties"]
    assert schema["key"]["pattern"] == "^[a-z][a-z0-9_]*$" and schema["weight"]["exclusiveMinimum"] == 0


@pytest.mark.parametrize("fields, kind", [
    ({"key": "Reasoning"}, "string_pattern_mismatch"),
    ({"key": "math-logic"}, "string_pattern_mismatch"),
    ({"key": ""}, "string_too_short"),
    ({"key": "k" * 41}, "string_too_long"),
    ({"title": "   "}, "string_too_short"),
    ({"title": "t" * 201}, "string_too_long"),
    ({"weight": 0}, "greater_than"),
    ({"weight": -1}, "greater_than"),
    ({"weight": 100.5}, "less_than_equal"),
    ({"weight": True}, "float_type"),
    ({"weight": math.nan}, "finite_number"),
    ({"max": math.inf}, "finite_number"),
    ({"max": 1e7}, "less_than_equal"),
    ({"min": -1e7}, "greater_than_equal"),
    ({"max": 0}, "scale_empty"),
    ({"min": 5, "max": 5}, "scale_empty"),
    ({"step": 3}, "step_uneven"),
    ({"step": 0}, "greater_than"),
    ({"step": 1e-9}, "step_uneven"),
    ({"max": "10"}, "float_type"),
    ({"extra": 1}, "extra_forbidden"),
])
def test_a_criterion_refuses(fields: dict, kind: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Criterion.model_validate(criterion(**fields))
    assert [e["type"] for e in caught.value.errors()] == [kind]


def test_a_criterion_title_loses_its_surrounding_spaces() -> None:
    assert Criterion.model_validate(criterion(title="  逻辑  ")).title == "逻辑"


def test_strict_json_refuses_a_boolean_weight() -> None:
    with pytest.raises(ValidationError, match="float_type|valid number"):
        Criterion.model_validate_json('{"key": "a", "title": "A", "weight": true, "max": 10}')


@pytest.mark.parametrize("criteria, kind", [
    ([], "too_short"),
    ([criterion(key=f"c{i}") for i in range(31)], "too_long"),
    ([criterion(), criterion(title="Again")], "criterion_duplicate"),
])
def test_a_rubric_refuses(criteria: list, kind: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Rubric.model_validate({"criteria": criteria})
    assert [e["type"] for e in caught.value.errors()] == [kind]


def test_thirty_criteria_are_allowed() -> None:
    assert len(Rubric.model_validate({"criteria": [criterion(key=f"c{i}") for i in range(30)]}).criteria) == 30


# ---------------------------------------------------------------- a rater's scores


def test_valid_scores_have_no_errors_and_a_weighted_total() -> None:
    assert INTERVIEW.check(VALID) == []
    # (3 * 0.85 + 1 * 0.75 + 1 * 0.25) / 5 on 0..100
    assert INTERVIEW.total(VALID) == pytest.approx(71.0)
    assert INTERVIEW.total({"reasoning": 0, "creativity": 1, "expression": 0}) == 0.0
    assert INTERVIEW.total({"reasoning": 10, "creativity": 5, "expression": 1}) == pytest.approx(100.0)


def test_integers_and_decimals_are_scores() -> None:
    assert INTERVIEW.check({"reasoning": 8, "creativity": Decimal("4"), "expression": Decimal("0.5")}) == []


def test_a_score_between_steps_in_floating_point_is_on_its_step() -> None:
    tenths = Rubric(criteria=[Criterion(key="a", title="A", weight=1, max=1, step=0.1)])
    assert tenths.check({"a": 0.1 + 0.2}) == [] and tenths.check({"a": 0.7}) == []
    assert tenths.check({"a": 0.35}) == [ScoreError("a", "off_step", 0.0, 1.0, 0.1)]


def test_every_kind_of_error_is_named_at_once() -> None:
    errors = INTERVIEW.check({"reasoning": 8.25, "creativity": 6, "talent": 3, "extra": 1})
    assert errors == [
        ScoreError("reasoning", "off_step", 0.0, 10.0, 0.5),
        ScoreError("creativity", "out_of_scale", 1.0, 5.0, 1.0),
        ScoreError("expression", "missing", 0.0, 1.0, None),
        ScoreError("talent", "unknown"),
        ScoreError("extra", "unknown"),
    ]


@pytest.mark.parametrize("value, reason", [
    (math.nan, "not_finite"),
    (math.inf, "not_finite"),
    (-math.inf, "not_finite"),
    (Decimal("NaN"), "not_finite"),
    (True, "not_finite"),
    (False, "not_finite"),
    ("8", "not_finite"),
    (None, "not_finite"),
    ([8], "not_finite"),
    (1e308, "out_of_scale"),
    (10**400, "out_of_scale"),
    (-(10**400), "out_of_scale"),
    (-0.5, "out_of_scale"),
    (10.000001, "out_of_scale"),
    (Decimal("1e999"), "out_of_scale"),
    (3.3, "off_step"),
], ids=lambda v: repr(v)[:24])
def test_a_hostile_score_is_refused(value: object, reason: str) -> None:
    errors = INTERVIEW.check({**VALID, "reasoning": value})
    assert errors == [ScoreError("reasoning", reason, 0.0, 10.0, 0.5)]


def test_the_ends_of_the_scale_are_scores() -> None:
    assert INTERVIEW.check({**VALID, "reasoning": 0}) == [] and INTERVIEW.check({**VALID, "reasoning": 10.0}) == []


def test_no_total_is_taken_of_invalid_scores() -> None:
    with pytest.raises(ScoresInvalid) as caught:
        INTERVIEW.total({**VALID, "expression": math.nan})
    assert caught.value.errors == [ScoreError("expression", "not_finite", 0.0, 1.0, None)]

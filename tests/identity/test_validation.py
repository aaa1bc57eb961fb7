"""Grades and relations as schools write them: the pure checks of a student's school data (services/gateway/identity/validation.py)."""

import pytest

from services.gateway.identity.validation import parse_grade, parse_relation
from shared.problems import InvalidValue


@pytest.mark.parametrize(
    ("raw", "grade"),
    [
        (7, 7), ("7", 7), (7.0, 7), ("7.0", 7), ("七年级", 7), ("初一", 7), ("初二", 8), ("初三", 9),
        ("高一", 10), ("高二", 11), ("高三", 12), ("一年级", 1), ("六年级", 6), ("小学三年级", 3),
        ("初中七年级", 7), ("高中二年级", 11), ("十二年级", 12), ("Grade 7", 7), ("G10", 10), ("１２", 12),
    ],
)
def test_grades_are_read_the_way_schools_write_them(raw, grade):
    assert parse_grade(raw) == grade


@pytest.mark.parametrize(
    ("raw", "code"),
    [("13", "grade_out_of_range"), ("0", "grade_out_of_range"), ("初四", "grade_out_of_range"),
     ("高五", "grade_out_of_range"), ("小学七年级", "grade_out_of_range"), (7.5, "grade_invalid"),
     ("大一", "grade_invalid"), ("", "grade_missing")],
)
def test_impossible_grades_are_refused(raw, code):
    with pytest.raises(InvalidValue) as caught:
        parse_grade(raw)
    assert caught.value.code == code


def test_relations_in_chinese_and_english():
    assert parse_relation("父亲") == "father"
    assert parse_relation("妈妈") == "mother"
    assert parse_relation("外婆") == "grandparent"
    assert parse_relation("Mother") == "mother"
    assert parse_relation("舅舅") == "other"
    assert parse_relation(None) == "other"

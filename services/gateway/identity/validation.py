"""Pure checks and conversions of a student's school data: grades and guardians' relations.

No I/O here: every function takes plain values and is tested directly. Resident ID numbers,
phones, masks and ages are the platform's (shared/personal.py).
"""

from __future__ import annotations

import re

from shared.personal import compact
from shared.problems import InvalidValue

# ---------------------------------------------------------------- grades

_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def _cn_number(text: str) -> int | None:
    """1-12 written in Chinese numerals or digits."""
    if text.isdigit():
        return int(text)
    if text in _CN_DIGITS:
        return _CN_DIGITS[text]
    if text == "十":
        return 10
    if len(text) == 2 and text[0] == "十" and text[1] in _CN_DIGITS:
        return 10 + _CN_DIGITS[text[1]]
    return None


_STAGE_OFFSET = (  # longest prefixes first
    ("初中", 6), ("高中", 9), ("小学", 0), ("初", 6), ("高", 9), ("小", 0),
)


_STAGES = {0: (6, "primary school has six years (一年级-六年级)"),
           6: (3, "middle school has three years (初一-初三, grades 7-9)"),
           9: (3, "high school has three years (高一-高三, grades 10-12)")}


def _in_stage(number: int, offset: int) -> int:
    """`number` counted within a stage ("初一" = 1) or, already, from grade 1 ("初中七年级" = 7)."""
    years, message = _STAGES[offset]
    if 1 <= number <= years:
        return number + offset
    if offset < number <= offset + years:
        return number
    raise InvalidValue("grade_out_of_range", message)


def parse_grade(value: object) -> int:
    """A school grade 1-12 from what schools write: 7, "7", "7.0", "七年级", "初一", "高三",
    "小学三年级", "Grade 7", "G7"."""
    if isinstance(value, bool):
        raise InvalidValue("grade_invalid", "not a grade")
    if isinstance(value, (int, float)):
        if float(value) != int(value):
            raise InvalidValue("grade_invalid", "a grade is a whole number")
        grade = int(value)
    else:
        text = compact(str(value)).lower()
        if not text:
            raise InvalidValue("grade_missing", "the grade is empty")
        text = re.sub(r"^(grade|year|g|y)\.?", "", text)
        text = text.removesuffix("年级").removesuffix("级")
        if re.fullmatch(r"\d+\.0+", text):
            text = text.split(".")[0]
        stage = None
        for prefix, offset in _STAGE_OFFSET:
            if text.startswith(prefix):
                text, stage = text[len(prefix):], offset
                break
        number = _cn_number(text)
        if number is None:
            raise InvalidValue("grade_invalid", "write the grade as 1-12, 初一-初三, 高一-高三 or 一年级-六年级")
        grade = number if stage is None else _in_stage(number, stage)
    if not 1 <= grade <= 12:
        raise InvalidValue("grade_out_of_range", "a grade is between 1 and 12")
    return grade


# ---------------------------------------------------------------- relations

RELATIONS = ("father", "mother", "grandparent", "guardian", "other")
_RELATION_WORDS = {
    "father": "father", "dad": "father", "父亲": "father", "爸爸": "father", "父": "father",
    "mother": "mother", "mum": "mother", "mom": "mother", "母亲": "mother", "妈妈": "mother", "母": "mother",
    "grandparent": "grandparent", "grandfather": "grandparent", "grandmother": "grandparent",
    "爷爷": "grandparent", "奶奶": "grandparent", "外公": "grandparent", "外婆": "grandparent",
    "姥爷": "grandparent", "姥姥": "grandparent", "祖父": "grandparent", "祖母": "grandparent",
    "外祖父": "grandparent", "外祖母": "grandparent",
    "guardian": "guardian", "监护人": "guardian", "legal guardian": "guardian",
    "other": "other", "其他": "other", "其它": "other",
}


def parse_relation(value: str | None) -> str:
    """A guardian's relation to the student; anything not recognised is 'other' (never a reason to refuse a row)."""
    if value is None:
        return "other"
    text = compact(str(value)).lower()
    return _RELATION_WORDS.get(text, "other")

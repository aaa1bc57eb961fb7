"""Pure checks and conversions of personal data: resident ID numbers, phones, grades, relations, masks, age.

No I/O here: every function takes plain values (today's date included) and is tested directly.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

# GB 11643-1999: the 18th character is the ISO 7064 MOD 11-2 check of the first 17.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^[1-9]\d{16}[\dX]$")
EARLIEST_BIRTH = date(1900, 1, 1)


class InvalidValue(ValueError):
    """A value that cannot be accepted; `code` names why (a catalogue code of the import report)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ResidentId:
    number: str  # normalised: 18 characters, upper-case X
    birth_date: date
    sex: str  # "male" | "female", from the sequence digit's parity


def _clean(value: str) -> str:
    # Full-width digits and letters (common when typed with a Chinese IME) become ASCII.
    return unicodedata.normalize("NFKC", value).strip().replace(" ", "")


def id_check_character(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS)) % 11]


def parse_resident_id(value: str, *, today: date) -> ResidentId:
    """An 18-digit resident identity number: shape, checksum, and a real birth date not after today."""
    number = _clean(value).upper()
    if not _ID_SHAPE.match(number):
        raise InvalidValue("id_number_format", "must be 18 characters: 17 digits and a digit or X")
    if id_check_character(number[:17]) != number[17]:
        raise InvalidValue("id_number_checksum", "the check character does not match (a digit mistyped?)")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidValue("id_number_birth_date", "the birth date inside the number is not a real date") from None
    if not EARLIEST_BIRTH <= born <= today:
        raise InvalidValue("id_number_birth_date", "the birth date inside the number is out of range")
    return ResidentId(number=number, birth_date=born, sex="male" if int(number[16]) % 2 else "female")


_PHONE = re.compile(r"^1[3-9]\d{9}$")


def normalise_phone(value: str) -> str:
    """A mainland mobile number as 11 digits; accepts +86/0086/86 prefixes, spaces and dashes."""
    digits = re.sub(r"[\s\-()]", "", _clean(value))
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == 11 + len(prefix):
            digits = digits[len(prefix):]
            break
    if not _PHONE.match(digits):
        raise InvalidValue("phone_format", "must be a mainland mobile number: 11 digits starting 13-19")
    return digits


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
        text = _clean(str(value)).lower()
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
    text = _clean(str(value)).lower()
    return _RELATION_WORDS.get(text, "other")


# ---------------------------------------------------------------- masks


def mask_id_number(number: str) -> str:
    """110***********1234: the region's first three digits and the last four."""
    if len(number) <= 7:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def mask_phone(phone: str) -> str:
    """138****5678."""
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_address(address: str) -> str:
    """The district, at most the first six characters, then stars: enough to know where, not the door."""
    keep = min(6, len(address) // 3)
    return address[:keep] + "****"


# ---------------------------------------------------------------- age


def age_on(birth_date: date, today: date) -> int:
    """Whole years completed on `today` (a 29 February birthday comes of age on 1 March)."""
    years = today.year - birth_date.year
    if (today.month, today.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years

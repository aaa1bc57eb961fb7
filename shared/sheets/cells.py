"""Reading one cell of a spreadsheet: its text, and parsers a column declares (numbers, dates, choices, ID numbers, phones).

A cell arrives as the file holds it: text from a CSV; text, int, float, datetime or bool from
an XLSX. A parser takes that raw value (never an empty one: the reader answers those) and
returns the value the caller wants, or raises `InvalidValue` with the catalogue code of the
reason, which becomes the row's error in the caller's language. The parsers here are
closures; a column set built from them is used where it is built (in the worker process that
reads the file, see shared/sheets/__init__.py), never pickled.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from shared.personal import ResidentId, normalise_phone, parse_resident_id
from shared.problems import InvalidValue

T = TypeVar("T")
Parser = Callable[[Any], Any]

# What a spreadsheet program runs when the cell is opened again (CSV or formula injection):
# text is refused when it starts with one of these and says more than the sign alone.
FORMULA_STARTS = ("=", "+", "-", "@")


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text(value: Any) -> str | None:
    """A cell as text: Excel numbers without their '.0', full-width forms as ASCII, stripped; None when empty."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    found = unicodedata.normalize("NFKC", str(value)).strip()
    return found or None


def plain_text(value: Any) -> str | None:
    """`text`, refusing what a spreadsheet would run as a formula (`row_value_formula`)."""
    found = text(value)
    if found is not None and len(found) > 1 and found.startswith(FORMULA_STARTS):
        raise InvalidValue("row_value_formula", "text that starts like a formula")
    return found


def number(
    *, minimum: int | Decimal | None = None, maximum: int | Decimal | None = None, whole: bool = False
) -> Parser:
    """A number (a Decimal, or an int when `whole`) within [minimum, maximum]: 95, 95.5, "95.5", "９５"."""

    def parse(value: Any) -> Decimal | int:
        if isinstance(value, bool):
            raise InvalidValue("row_number_invalid", "a yes/no cell")
        if isinstance(value, float):
            found = Decimal(repr(value))  # the shortest text of the float: 95.5, not 95.4999...
        elif isinstance(value, int):
            found = Decimal(value)
        else:
            raw = text(value) or ""
            try:
                found = Decimal(raw)
            except InvalidOperation:
                raise InvalidValue("row_number_invalid", "not a number") from None
        if not found.is_finite():
            raise InvalidValue("row_number_invalid", "not a finite number")
        if whole and found != found.to_integral_value():
            raise InvalidValue("row_number_not_whole", "not a whole number")
        if (minimum is not None and found < minimum) or (maximum is not None and found > maximum):
            raise InvalidValue(
                "row_number_out_of_range", "out of range",
                minimum="-∞" if minimum is None else minimum, maximum="∞" if maximum is None else maximum,
            )
        return int(found) if whole else found

    return parse


_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")


def day(*, earliest: date | None = None, latest: date | None = None) -> Parser:
    """A date as schools write it: a date cell, 2026-12-01, 2026/12/1, 2026.12.1, 2026年12月1日, 20261201."""

    def parse(value: Any) -> date:
        if isinstance(value, datetime):
            found = value.date()
        elif isinstance(value, date):
            found = value
        else:
            raw = text(value) or ""
            match = _DATE.match(raw) or (re.fullmatch(r"(\d{4})(\d{2})(\d{2})", raw))
            if match is None:
                raise InvalidValue("row_date_invalid", "not a date")
            try:
                found = date(*(int(part) for part in match.groups()))
            except ValueError:
                raise InvalidValue("row_date_invalid", "not a real date") from None
        if (earliest is not None and found < earliest) or (latest is not None and found > latest):
            raise InvalidValue("row_date_out_of_range", "out of range", earliest=earliest or "—", latest=latest or "—")
        return found

    return parse


def choice_key(value: str) -> str:
    """How a choice is compared: without case, spaces, or full-width forms."""
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", value)).lower()


def one_of(choices: Mapping[str, T]) -> Callable[[Any], T]:
    """One of the words of `choices` (compared by `choice_key`), as the value it maps to:
    `one_of({"数学": "math", "math": "math", "物理": "physics", ...})`."""
    keyed = {choice_key(word): meaning for word, meaning in choices.items()}
    listed = ", ".join(choices)

    def parse(value: Any) -> T:
        found = keyed.get(choice_key(text(value) or ""))
        if found is None:
            raise InvalidValue("row_choice_invalid", "not one of the choices", choices=listed)
        return found

    return parse


def resident_id(*, today: date) -> Callable[[Any], ResidentId]:
    """A resident ID number (shared/personal.py): its checksum and a birth date not after `today`."""
    return lambda value: parse_resident_id(text(value) or "", today=today)


def phone(value: Any) -> str:
    """A mainland mobile number, normalised to 11 digits (shared/personal.py)."""
    return normalise_phone(text(value) or "")

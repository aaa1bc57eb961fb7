"""Personal data of the programme's people, as plain checks and conversions: resident ID numbers, mainland mobiles, masks, ages.

No I/O here: every function takes plain values (today's date included) and is tested directly.
A value that cannot be accepted raises `InvalidValue` with a catalogue code, which a route
answers as a problem (`exc.problem()`) and a spreadsheet reader as a row's error
(shared/sheets). How the values are stored is shared/crypto.py's concern.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from shared.problems import InvalidValue

# GB 11643-1999: the 18th character is the ISO 7064 MOD 11-2 check of the first 17.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^[1-9]\d{16}[\dX]$")
EARLIEST_BIRTH = date(1900, 1, 1)


@dataclass(frozen=True)
class ResidentId:
    number: str  # normalised: 18 characters, upper-case X
    birth_date: date
    sex: str  # "male" | "female", from the sequence digit's parity


def compact(value: str) -> str:
    """`value` as typed, without its spaces and with full-width digits and letters (common when
    typed with a Chinese IME) as ASCII."""
    return unicodedata.normalize("NFKC", value).strip().replace(" ", "")


def id_check_character(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS)) % 11]


def parse_resident_id(value: str, *, today: date) -> ResidentId:
    """An 18-digit resident identity number: shape, checksum, and a real birth date not after today."""
    number = compact(value).upper()
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
    digits = re.sub(r"[\s\-()]", "", compact(value))
    for prefix in ("+86", "0086", "86"):
        if digits.startswith(prefix) and len(digits) == 11 + len(prefix):
            digits = digits[len(prefix):]
            break
    if not _PHONE.match(digits):
        raise InvalidValue("phone_format", "must be a mainland mobile number: 11 digits starting 13-19")
    return digits


# ---------------------------------------------------------------- masks


def mask_middle(value: str) -> str:
    """All but the first three and the last four characters as stars (all of a short value)."""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(name: str) -> str:
    """A name as a public list shows it (公示): the first and last characters, the rest as stars.

    张小明 -> 张*明, 欧阳小明 -> 欧**明, 张三 -> 张*, 李 -> *; a Latin name the same way, by letters.
    """
    name = name.strip()
    if len(name) <= 1:
        return "*" * len(name)
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_id_number(number: str) -> str:
    """110***********1234: the region's first three digits and the last four."""
    return mask_middle(number)


def mask_phone(phone: str) -> str:
    """138****5678."""
    return mask_middle(phone)


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

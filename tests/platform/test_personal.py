"""Resident ID numbers, mainland mobiles, masks and ages (shared/personal.py): the pure checks behind every form and upload of personal data."""

from datetime import date

import pytest

from shared.personal import (
    age_on,
    compact,
    id_check_character,
    mask_address,
    mask_id_number,
    mask_phone,
    normalise_phone,
    parse_resident_id,
)
from shared.problems import InvalidValue, ProblemError
from tests.identity.factories import bad_checksum, id_number

TODAY = date(2026, 11, 28)


def test_the_textbook_id_number_is_valid_and_yields_its_birth_date():
    # The example number of GB 11643-1999, whose check character is X.
    parsed = parse_resident_id("11010519491231002x", today=TODAY)
    assert parsed.number == "11010519491231002X"
    assert parsed.birth_date == date(1949, 12, 31)
    assert parsed.sex == "female"


def test_check_character_follows_iso_7064_mod_11_2():
    assert id_check_character("11010519491231002") == "X"
    # By hand: the weighted sum is 196, 196 mod 11 = 9, and position 9 of "10X98765432" is 3.
    assert id_check_character("44052419800101001") == "3"


def test_full_width_digits_and_spaces_are_accepted():
    assert parse_resident_id(" １１０１０５１９４９１２３１００２Ｘ ", today=TODAY).number == "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("11010519491231002", "id_number_format"),  # 17 characters
        ("1101051949123100211", "id_number_format"),  # 19
        ("01010519491231002X", "id_number_format"),  # region cannot start with 0
        ("11010519491231002A", "id_number_format"),
        ("110105194912310021", "id_number_checksum"),
        (id_number(date(2012, 2, 29))[:10] + "0230" + "0011", "id_number_birth_date"),
    ],
)
def test_bad_id_numbers_are_refused_with_their_reason(value, code):
    if code == "id_number_birth_date":
        # 30 February, with a correct check character, so only the date is wrong.
        value = value[:17] + id_check_character(value[:17])
    with pytest.raises(InvalidValue) as caught:
        parse_resident_id(value, today=TODAY)
    assert caught.value.code == code


def test_a_changed_digit_breaks_the_checksum():
    good = id_number(date(2012, 5, 1))
    parse_resident_id(good, today=TODAY)
    with pytest.raises(InvalidValue, match="check character"):
        parse_resident_id(bad_checksum(good), today=TODAY)


def test_a_birth_date_in_the_future_is_refused():
    future = id_number(date(2027, 1, 1))
    with pytest.raises(InvalidValue) as caught:
        parse_resident_id(future, today=TODAY)
    assert caught.value.code == "id_number_birth_date"


@pytest.mark.parametrize(
    ("raw", "phone"),
    [("13812345678", "13812345678"), ("+86 138 1234 5678", "13812345678"), ("0086-19912345678", "19912345678"), ("8613812345678", "13812345678")],
)
def test_mainland_mobiles_are_normalised(raw, phone):
    assert normalise_phone(raw) == phone


@pytest.mark.parametrize("raw", ["12812345678", "1381234567", "138123456789", "010-12345678", "phone"])
def test_other_numbers_are_not_mobiles(raw):
    with pytest.raises(InvalidValue) as caught:
        normalise_phone(raw)
    assert caught.value.code == "phone_format"


def test_masks_keep_only_what_identifies_nothing():
    assert mask_id_number("110105194912310021") == "110***********0021"
    assert mask_phone("13812345678") == "138****5678"
    masked = mask_address("北京市海淀区中关村大街1号院3单元502")
    assert masked.startswith("北京市海淀区") and "502" not in masked


@pytest.mark.parametrize(
    ("born", "today", "age"),
    [
        (date(2012, 11, 28), date(2026, 11, 28), 14),  # the 14th birthday itself
        (date(2012, 11, 29), date(2026, 11, 28), 13),
        (date(2012, 2, 29), date(2026, 2, 28), 13),  # a leap-day child comes of age on 1 March
        (date(2012, 2, 29), date(2026, 3, 1), 14),
    ],
)
def test_age_in_whole_years(born, today, age):
    assert age_on(born, today) == age


def test_a_refused_value_becomes_the_problem_a_route_answers():
    with pytest.raises(InvalidValue) as caught:
        normalise_phone("12345")
    problem = caught.value.problem()
    assert isinstance(problem, ProblemError) and (problem.code, problem.status) == ("phone_format", 422)


def test_typed_values_lose_their_spaces_and_full_width_forms():
    assert compact(" １３８ １２３４ ５６７８ ") == "13812345678"

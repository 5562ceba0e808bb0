"""Dates of birth in the forms customers type them."""

from __future__ import annotations

from datetime import date

import pytest

from bot.dates import parse_date_of_birth

TODAY = date(2026, 11, 27)


@pytest.mark.parametrize(
    "text",
    ["1980-03-15", "15/3/1980", "15/03/1980", "15-03-80", "15.3.1980", "1980年3月15日",
     "1980年3月15號", "80年3月15日", "一九八零年三月十五日", "15 Mar 1980", "March 15, 1980",
     "15th of March 1980", "19800315", "１９８０－０３－１５", "my dob is 15/03/1980", "3/15/1980",
     "1980/3/15", " 15 / 3 / 1980 "],
)
def test_accepts_common_forms(text: str) -> None:
    assert parse_date_of_birth(text, TODAY) == date(1980, 3, 15)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("05-05-85", date(1985, 5, 5)), ("1/2/05", date(2005, 2, 1)), ("二零零五年十二月三十一日",
                                                                      date(2005, 12, 31))],
)
def test_two_digit_years_and_day_first(text: str, expected: date) -> None:
    assert parse_date_of_birth(text, TODAY) == expected


@pytest.mark.parametrize(
    "text", ["", "hello", "31/02/1980", "15/3/2030", "1800-01-01", "32/13/1980", "🎂", "x" * 5000]
)
def test_rejects_invalid_or_future(text: str) -> None:
    assert parse_date_of_birth(text, TODAY) is None


@pytest.mark.parametrize(
    "text",
    ["His policy number is CI10000001 and his birthday is 15 March 1980.",
     "policy CI10000001, she was born on March 15th, 1980",
     "CI10000001 dob 15/03/1980"],
)
def test_a_date_inside_a_sentence_with_a_policy_number(text: str) -> None:
    assert parse_date_of_birth(text, TODAY) == date(1980, 3, 15)


@pytest.mark.parametrize(("text", "year"), [("1975", 1975), ("born in 1975", 1975),
                                            ("她是1975年出生的", 1975), ("一九七五年", 1975),
                                            ("15/3/1975", None), ("CI10000001", None),
                                            ("2031", None)])
def test_a_year_alone(text: str, year: int | None) -> None:
    from bot.dates import year_only

    assert year_only(text, TODAY) == year


@pytest.mark.parametrize("text", ["15 March", "3月15日", "15/3", "March 15th"])
def test_day_and_month_after_the_year(text: str) -> None:
    from bot.dates import with_year

    assert with_year(text, 1975, TODAY) == date(1975, 3, 15)

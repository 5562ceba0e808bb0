"""Dates of birth as customers type them.

Accepted: 1980-03-15, 15/3/1980, 15-03-80, 1980年3月15日, 15 Mar 1980, March 15, 1980.
Hong Kong writes day first (15/3/1980); a date that only makes sense month first (3/15/1980) is
accepted too. Two-digit years are read as the most recent past year (80 → 1980, 05 → 2005), since
a date of birth is never in the future. Chinese numerals (一九八零年三月十五日) and
full-width digits are accepted.
"""

from __future__ import annotations

import re
from datetime import date

from bot.language import fold_width_and_case

MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
_SEP = r"(?:\s*[-/.]\s*|\s+)"
# A date inside a sentence ("his policy number is CI10000006 and his birthday is 10 October
# 1988"), not inside a paragraph.
MAX_LENGTH = 120
_MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
# 10 October 1988, 10th of Oct, 1988 / October 10, 1988 / Oct 10th 1988
_DAY_MONTH_YEAR = re.compile(
    rf"(?<!\d)(\d{{1,2}})(?:st|nd|rd|th)?\s*(?:of\s+)?({_MONTH_NAMES})\b\.?,?\s*(\d{{4}}|\d{{2}})(?!\d)")
_MONTH_DAY_YEAR = re.compile(
    rf"\b({_MONTH_NAMES})\b\.?\s*(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}}|\d{{2}})(?!\d)")
_CHINESE_DIGITS = str.maketrans("〇零一二三四五六七八九", "00123456789")
_CN_UNITS = re.compile(r"[一二三四五六七八九]?十[一二三四五六七八九]?")


def _chinese_numerals(text: str) -> str:
    """十五 → 15, 三 → 3, 一九八零 → 1980 (only within dates, so no grammar needed)."""

    def tens(match: re.Match[str]) -> str:
        token = match.group(0)
        head, _, tail = token.partition("十")
        return str(
            int(head.translate(_CHINESE_DIGITS) or 1) * 10
            + int(tail.translate(_CHINESE_DIGITS) or 0)
        )

    return _CN_UNITS.sub(tens, text).translate(_CHINESE_DIGITS)


def _year(raw: str, today: date) -> int:
    year = int(raw)
    if len(raw) == 2:
        year += 2000 if 2000 + year <= today.year else 1900
    return year


def _valid(year: int, month: int, day: int, today: date) -> date | None:
    try:
        candidate = date(year, month, day)
    except ValueError:
        return None
    if candidate > today or candidate.year < today.year - 130:
        return None
    return candidate


_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")


def year_only(text: str, today: date | None = None) -> int | None:
    """The year of birth when ``text`` gives only a year ("1975", "born in 1975", 她是1975年出生的,
    一九七五年); ``None`` when it holds a whole date, no year, or other numbers too (a policy
    number is not a year)."""
    today = today or date.today()
    folded = _chinese_numerals(fold_width_and_case(text or ""))
    if len(folded) > MAX_LENGTH or parse_date_of_birth(text, today) is not None:
        return None
    years = _YEAR.findall(folded)
    if len(years) != 1 or sum(ch.isdigit() for ch in folded) != 4:
        return None
    year = int(years[0])
    return year if 1900 <= year <= today.year else None


def with_year(text: str, year: int, today: date | None = None) -> date | None:
    """``text`` read as a day and month of ``year`` ("15 March", 3月15日, 15/3), when it has no
    year of its own."""
    for whole in (f"{text} {year}", f"{year}年{text}"):
        if (born := parse_date_of_birth(whole, today)) is not None and born.year == year:
            return born
    return None


def parse_date_of_birth(text: str, today: date | None = None) -> date | None:
    """The date in ``text``, or ``None`` when there is no unambiguous valid past date."""
    today = today or date.today()
    folded = _chinese_numerals(fold_width_and_case(text or "")).strip()
    if not folded or len(folded) > MAX_LENGTH:
        return None

    # 1980年3月15日 / 1980年3月15號
    if match := re.search(r"(\d{2,4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号號]?", folded):
        return _valid(_year(match[1], today), int(match[2]), int(match[3]), today)
    # 1980-03-15, 1980/3/15, 1980.03.15, 19800315
    if match := re.fullmatch(
        r".*?(?<!\d)(\d{4})" + _SEP + r"(\d{1,2})" + _SEP + r"(\d{1,2})(?!\d).*", folded
    ) or re.fullmatch(r"\D*(\d{4})(\d{2})(\d{2})\D*", folded):
        return _valid(int(match[1]), int(match[2]), int(match[3]), today)
    # 15/3/1980, 15-03-80, 15.3.80 (day first, month first as a fallback)
    if match := re.fullmatch(
        r".*?(?<!\d)(\d{1,2})" + _SEP + r"(\d{1,2})" + _SEP + r"(\d{4}|\d{2})(?!\d).*", folded
    ):
        first, second, year = int(match[1]), int(match[2]), _year(match[3], today)
        return _valid(year, second, first, today) or _valid(year, first, second, today)
    # 15 Mar 1980, March 15, 1980, 15th of march 1980 (inside a sentence with other numbers too)
    if match := _DAY_MONTH_YEAR.search(folded):
        return _valid(_year(match[3], today), MONTHS[match[2]], int(match[1]), today)
    if match := _MONTH_DAY_YEAR.search(folded):
        return _valid(_year(match[3], today), MONTHS[match[1]], int(match[2]), today)
    words = re.findall(r"[a-z]+|\d+", folded)
    month = next((MONTHS[w] for w in words if w in MONTHS), None)
    numbers = [w for w in words if w.isdigit()]
    if month and len(numbers) == 2:
        day_raw, year_raw = (
            (numbers[0], numbers[1])
            if len(numbers[1]) in (2, 4) and int(numbers[0]) <= 31
            else (numbers[1], numbers[0])
        )
        return _valid(_year(year_raw, today), month, int(day_raw), today)
    return None

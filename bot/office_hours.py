"""When nurses answer: office hours in Hong Kong time, configurable.

``SMO_OFFICE_HOURS`` is ``"<days> <start>-<end>"`` with days as ``Mon-Fri`` or a comma list
(``Mon,Tue,Sat``), e.g. the default ``"Mon-Fri 09:00-18:00"``. ``SMO_TIMEZONE`` defaults to
``Asia/Hong_Kong``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@lru_cache(maxsize=1)
def _wording() -> dict:
    """``data/office_hours.yml``: day names and how a set of days reads, per reply script."""
    from bot.paths import DATA_DIR
    from bot.yamlfile import load_yaml

    return load_yaml(DATA_DIR / "office_hours.yml")


@dataclass(frozen=True)
class OfficeHours:
    """Weekdays (0 = Monday) and daily opening hours in one time zone."""

    days: frozenset[int]
    start: time
    end: time
    zone: ZoneInfo

    @classmethod
    def parse(cls, spec: str, zone: str = "Asia/Hong_Kong") -> OfficeHours:
        """Parse ``"Mon-Fri 09:00-18:00"``; raise ValueError with the expected form."""
        match = re.fullmatch(
            r"\s*([A-Za-z,\-]+)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", spec
        )
        if not match:
            raise ValueError(f"office hours {spec!r}: expected like 'Mon-Fri 09:00-18:00'")
        days: set[int] = set()
        for part in match[1].lower().split(","):
            first, _, last = part.partition("-")
            if first not in DAYS or (last and last not in DAYS):
                raise ValueError(f"office hours {spec!r}: unknown day in {part!r}")
            a, b = DAYS.index(first), DAYS.index(last or first)
            days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        start, end = time(int(match[2]), int(match[3])), time(int(match[4]), int(match[5]))
        if start >= end:
            raise ValueError(f"office hours {spec!r}: start must be before end")
        return cls(frozenset(days), start, end, ZoneInfo(zone))

    @classmethod
    def from_env(cls) -> OfficeHours:
        """From ``SMO_OFFICE_HOURS`` and ``SMO_TIMEZONE``."""
        return cls.parse(
            os.environ.get("SMO_OFFICE_HOURS", "Mon-Fri 09:00-18:00"),
            os.environ.get("SMO_TIMEZONE", "Asia/Hong_Kong"),
        )

    def is_open(self, now: datetime | None = None) -> bool:
        """True during office hours."""
        local = (now or datetime.now(tz=self.zone)).astimezone(self.zone)
        return local.weekday() in self.days and self.start <= local.time() < self.end

    def next_open(self, now: datetime | None = None) -> datetime:
        """The next opening time (now, if open now)."""
        local = (now or datetime.now(tz=self.zone)).astimezone(self.zone)
        if self.is_open(local):
            return local
        for offset in range(0, 8):
            day = (local + timedelta(days=offset)).date()
            opening = datetime.combine(day, self.start, tzinfo=self.zone)
            if day.weekday() in self.days and opening > local:
                return opening
        raise ValueError("office hours have no open day")

    def after_open_minutes(self, start: datetime, minutes: int) -> datetime:
        """``start`` plus ``minutes`` of office time: the clock stops while the office is closed,
        so a normal-priority target set on a Saturday runs from Monday's opening. The result is
        in the office's zone (aware); ``start`` may be in any zone but must be aware."""
        local = start.astimezone(self.zone)
        remaining = timedelta(minutes=max(0, minutes))
        for _ in range(0, 7 * 52):  # a year of open days is far beyond any target
            local = self.next_open(local)
            closing = datetime.combine(local.date(), self.end, tzinfo=self.zone)
            if remaining <= closing - local:
                return local + remaining
            remaining -= closing - local
            local = closing
        raise ValueError(f"{minutes} office minutes do not fit in a year of office hours")

    def describe(self, language: str | None = "en") -> str:
        """``Mon-Fri 09:00-18:00`` (``星期一至五 09:00-18:00`` in Chinese) for replies; the
        wording comes from ``data/office_hours.yml``."""
        from bot.language import reply_script

        wording = _wording()[reply_script(language)]
        days = sorted(self.days)
        if len(days) > 1 and days == list(range(days[0], days[-1] + 1)):
            text = wording["run"].format(first=wording["days"][days[0]],
                                         last=wording["short"][days[-1]])
        else:
            text = wording["list"].join(wording["days"][d] for d in days)
        return f"{text} {self.start:%H:%M}-{self.end:%H:%M}"

"""First-response due times: normal priority counts office hours only, urgent runs round the clock,
and the console and /metrics say which clock a target runs on. Fixed times, no clock reading."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from bot.cases import store
from bot.office_hours import OfficeHours

HK = ZoneInfo("Asia/Hong_Kong")
HOURS = OfficeHours.parse("Mon-Fri 09:00-18:00")
SATURDAY_10_HKT = datetime(2026, 11, 28, 2, 0)  # naive UTC, as stored: Sat 28 Nov, 10:00 HKT
MONDAY_10_HKT = datetime(2026, 11, 30, 2, 0)  # Mon 30 Nov, 10:00 HKT: opening 09:00 + 60 min


@pytest.fixture()
def default_targets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The documented defaults: Mon-Fri 09:00-18:00 Hong Kong time, 5 / 60 minutes."""
    for name in ("SMO_OFFICE_HOURS", "SMO_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SMO_SLA_URGENT_MINUTES", "5")
    monkeypatch.setenv("SMO_SLA_NORMAL_MINUTES", "60")


def test_office_minutes_stop_while_closed() -> None:
    def at(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 11, day, hour, minute, tzinfo=HK)

    assert HOURS.after_open_minutes(at(28, 10), 60) == at(30, 10)  # Saturday → Monday
    assert HOURS.after_open_minutes(at(27, 10), 60) == at(27, 11)  # open: plain minutes
    assert HOURS.after_open_minutes(at(27, 17, 30), 60) == at(30, 9, 30)  # spills over the weekend
    assert HOURS.after_open_minutes(at(27, 7), 60) == at(27, 10)  # before opening
    assert HOURS.after_open_minutes(at(26, 18), 60) == at(27, 10)  # at closing time
    assert HOURS.after_open_minutes(at(27, 10), 9 * 60 + 30) == at(30, 10, 30)  # a day and more
    utc_start = datetime(2026, 11, 28, 2, 0, tzinfo=timezone.utc)  # any zone in, the office's out
    assert HOURS.after_open_minutes(utc_start, 60) == at(30, 10)


def test_saturday_normal_case_is_due_monday_and_urgent_at_once() -> None:
    policy = store.SlaPolicy(urgent_minutes=5, normal_minutes=60, hours=HOURS)
    assert policy.due("normal", SATURDAY_10_HKT) == MONDAY_10_HKT
    assert policy.due("urgent", SATURDAY_10_HKT) == SATURDAY_10_HKT + timedelta(minutes=5)
    aware = SATURDAY_10_HKT.replace(tzinfo=timezone.utc)  # aware in, aware out
    assert policy.due("normal", aware) == MONDAY_10_HKT.replace(tzinfo=timezone.utc)


def test_cases_opened_on_saturday(database: str, default_targets: None) -> None:
    def opened(conversation: str, priority: str) -> datetime:
        return store.open_case(conversation_id=conversation, channel="rest", language="en",
                               queue="nurse", priority=priority, reason="request_human",
                               now=SATURDAY_10_HKT).first_response_due

    assert opened("rest:normal", "normal") == MONDAY_10_HKT
    urgent = opened("rest:urgent", "urgent")
    assert SATURDAY_10_HKT < urgent <= SATURDAY_10_HKT + timedelta(minutes=5)
    # a normal case that turns urgent gets the round-the-clock target from that moment
    later = SATURDAY_10_HKT + timedelta(hours=1)
    escalated = store.open_case(conversation_id="rest:normal", channel="rest", language="en",
                                queue="nurse", priority="urgent", reason="emergency", now=later)
    assert escalated.first_response_due == later + timedelta(minutes=5)


def test_metrics_name_the_clock(database: str, default_targets: None) -> None:
    from bot.metrics import exposition

    text = exposition().decode()
    assert 'smo_sla_target_minutes{clock="office_hours",priority="normal"} 60.0' in text
    assert 'smo_sla_target_minutes{clock="round_the_clock",priority="urgent"} 5.0' in text
    assert "office hours only" in text  # the breach gauge's help says how "due" is counted


def test_console_queue_shows_the_day_and_the_clock(default_targets: None) -> None:
    from channels.console.web import _env

    def row(priority: str, due: datetime) -> SimpleNamespace:
        return SimpleNamespace(id=1, reference="HO-1", priority=priority, queue="nurse",
                               reason="request_human", language="en", channel="rest",
                               created_at=SATURDAY_10_HKT, first_response_due=due,
                               first_response_at=None, status="queued", owner=None)

    page = _env.get_template("queue.html").render(
        lang="en", account=None, queues=("nurse",), office_hours=HOURS.describe("en"),
        cases=[row("normal", MONDAY_10_HKT)])
    assert "Mon 30 Nov 10:00 HKT" in page  # not just "10:00": the weekend is visible
    assert "office hours (Mon-Fri 09:00-18:00)" in page
    assert "office hours</small>" in page
    urgent = _env.get_template("queue.html").render(
        lang="en", account=None, queues=("nurse",), office_hours=HOURS.describe("en"),
        cases=[row("urgent", SATURDAY_10_HKT + timedelta(minutes=5))])
    assert "Sat 28 Nov 10:05 HKT" in urgent and "round the clock</small>" in urgent

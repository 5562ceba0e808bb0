"""The console shows times as staff live by them (the office's zone), and how long cases wait."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from channels.console.web import local_time, waited


def test_stored_utc_times_show_in_hong_kong_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMO_TIMEZONE", raising=False)
    stored = datetime(2026, 11, 28, 2, 28)  # naive UTC, as the database returns it
    assert local_time(stored) == "10:28 HKT"
    assert local_time(stored.replace(tzinfo=timezone.utc), "%H:%M:%S") == "10:28:00 HKT"
    assert local_time(None) == "—"


def test_the_zone_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMO_TIMEZONE", "Asia/Shanghai")
    assert local_time(datetime(2026, 11, 28, 2, 28)) == "10:28 CST"


def test_waiting_is_a_duration() -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
    assert waited(datetime(2026, 11, 28, 11, 48), now) == "12 min"
    assert waited(now - timedelta(hours=3, minutes=5), now) == "3 h 05 min"
    assert waited(now + timedelta(minutes=1), now) == "0 min"  # clocks a little apart
    assert waited(None, now) == "—"

"""Sign-in delays as pure functions: free failures, doubling waits, caps, the window."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.console.throttle import (
    PER_ACCOUNT,
    PER_ACCOUNT_AND_CLIENT,
    PER_CLIENT,
    WINDOW,
    wait_for_attempt,
    wait_seconds,
)

NOW = datetime(2026, 12, 1, 9, 0)


def failures(count: int, last: datetime = NOW) -> list[tuple[bool, datetime]]:
    return [(False, last - timedelta(milliseconds=count - n)) for n in range(count)]


def test_free_failures_then_doubling_waits_up_to_the_cap() -> None:
    limit = PER_ACCOUNT_AND_CLIENT
    assert wait_seconds(failures(limit.free), limit, NOW) == 0
    waits = [wait_seconds(failures(limit.free + n), limit, NOW) for n in range(1, 12)]
    assert waits[:4] == [2, 4, 8, 16]
    assert max(waits) == limit.cap_seconds == waits[-1]


def test_the_wait_runs_from_the_latest_failure() -> None:
    history = failures(PER_ACCOUNT_AND_CLIENT.free + 2)  # a 4 s wait
    assert wait_seconds(history, PER_ACCOUNT_AND_CLIENT, NOW + timedelta(seconds=1)) == 3
    assert wait_seconds(history, PER_ACCOUNT_AND_CLIENT, NOW + timedelta(seconds=4)) == 0


def test_a_success_resets_only_the_pair_count() -> None:
    history = failures(30) + [(True, NOW)]
    assert wait_seconds(history, PER_ACCOUNT_AND_CLIENT, NOW) == 0
    assert wait_seconds(history, PER_CLIENT, NOW) > 0  # an address's guesses are not washed away


def test_old_failures_no_longer_count() -> None:
    history = failures(100, NOW - WINDOW - timedelta(seconds=1))
    assert wait_for_attempt(history, history, history, NOW) == 0


def test_the_account_ceiling_is_high_and_short() -> None:
    assert wait_seconds(failures(PER_ACCOUNT.free), PER_ACCOUNT, NOW) == 0
    assert wait_seconds(failures(PER_ACCOUNT.free + 50), PER_ACCOUNT, NOW) == 60


def test_the_longest_wait_wins() -> None:
    assert wait_for_attempt([], failures(PER_CLIENT.free + 3), [], NOW) == 8

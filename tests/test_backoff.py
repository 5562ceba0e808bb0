"""The channel runtime's one retry rule (channels/core/backoff.py): doubling from half a second,
capped, a provider's Retry-After taking precedence, each wait stretched by at most the jitter."""

from __future__ import annotations

import random

import pytest

from channels.core import backoff


@pytest.fixture(autouse=True)
def _no_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: low)


def test_waits_double_from_half_a_second_up_to_the_cap() -> None:
    waits = [backoff.backoff_seconds(attempts) for attempts in range(12)]
    assert waits[:4] == [0.5, 1.0, 2.0, 4.0]
    assert max(waits) == backoff.MAX_SECONDS
    assert waits == sorted(waits)


def test_a_providers_retry_after_replaces_the_doubling() -> None:
    assert backoff.backoff_seconds(1, retry_after=7.0) == 7.0
    assert backoff.backoff_seconds(10, retry_after=2.0) == 2.0


def test_every_wait_is_stretched_by_at_most_the_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    assert backoff.backoff_seconds(1) == pytest.approx(1.0 * (1 + backoff.JITTER))
    assert backoff.backoff_seconds(1, retry_after=5.0) == pytest.approx(5.0 * (1 + backoff.JITTER))

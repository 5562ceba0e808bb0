"""Webhooks before background work: the runtime waits for open webhooks, but never for long."""

from __future__ import annotations

import asyncio
import time

from channels.core.web_first import WebFirst


def _timed_wait(gate: WebFirst, close_after: float | None = None) -> float:
    async def run() -> float:
        if close_after is not None:
            asyncio.get_running_loop().call_later(close_after, gate.closed, 1)
        started = time.monotonic()
        await gate.wait()
        return time.monotonic() - started

    return asyncio.run(run())


def test_nothing_open_means_no_wait() -> None:
    gate = WebFirst(longest_wait=1.0)
    assert not gate.busy()
    assert _timed_wait(gate) < 0.05


def test_an_open_webhook_is_waited_for_until_it_closes() -> None:
    gate = WebFirst(longest_wait=2.0)
    gate.opened(1)
    assert gate.busy()
    waited = _timed_wait(gate, close_after=0.1)
    assert 0.09 <= waited < 1.0
    assert not gate.busy()


def test_the_wait_is_bounded_while_webhooks_keep_coming() -> None:
    gate = WebFirst(longest_wait=0.05)
    gate.opened(1)  # never closed within the wait
    assert _timed_wait(gate) < 0.5
    assert gate.busy()


def test_a_webhook_never_finished_is_forgotten() -> None:
    gate = WebFirst(grace=0.05)
    gate.opened(1)
    time.sleep(0.1)
    assert not gate.busy()

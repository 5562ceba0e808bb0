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


def test_the_web_stays_busy_for_a_moment_after_a_webhook_closes() -> None:
    gate = WebFirst(linger=0.2)
    gate.opened(1)
    gate.closed(1)
    assert gate.busy()  # a burst's next request is usually a millisecond behind
    time.sleep(0.25)
    assert not gate.busy()


def test_waiting_steps_go_oldest_first_and_newcomers_queue_behind() -> None:
    gate = WebFirst(longest_wait=5.0, linger=0.0)
    order: list[int] = []

    async def step(name: int) -> None:
        await gate.wait()
        order.append(name)

    async def run() -> None:
        gate.opened(1)
        tasks = [asyncio.create_task(step(i)) for i in range(3)]
        await asyncio.sleep(0.05)
        assert order == []  # held while the webhook is open
        gate.closed(1)
        tasks.append(asyncio.create_task(step(3)))  # the web is idle, but three are queued
        await asyncio.wait_for(asyncio.gather(*tasks), 2)

    asyncio.run(run())
    assert order == [0, 1, 2, 3]


def test_steps_are_let_go_one_at_a_time() -> None:
    """Each released step runs up to its next await before the next one is let go: released
    together, they would run back to back through the next webhooks."""
    gate = WebFirst(longest_wait=5.0, linger=0.0)
    log: list[str] = []

    async def step(name: int) -> None:
        await gate.wait()
        log.append(f"start {name}")
        gate.opened(100 + name)  # a webhook arrives while this step runs
        await asyncio.sleep(0.02)
        log.append(f"end {name}")
        gate.closed(100 + name)

    async def run() -> None:
        gate.opened(1)
        tasks = [asyncio.create_task(step(i)) for i in range(2)]
        await asyncio.sleep(0.01)
        gate.closed(1)
        await asyncio.wait_for(asyncio.gather(*tasks), 2)

    asyncio.run(run())
    assert log == ["start 0", "end 0", "start 1", "end 1"]


def test_a_cancelled_step_does_not_hold_the_others() -> None:
    gate = WebFirst(longest_wait=5.0, linger=0.0)

    async def run() -> bool:
        gate.opened(1)
        first = asyncio.create_task(gate.wait())
        second = asyncio.create_task(gate.wait())
        await asyncio.sleep(0.01)
        first.cancel()
        gate.closed(1)
        await asyncio.wait_for(second, 1)
        return first.cancelled()

    assert asyncio.run(run())


def test_a_stopped_loop_does_not_hold_the_next_one() -> None:
    """The runtime can be stopped (its loop just stops) and started on a new loop: steps left
    waiting on the old loop must not keep the new loop's steps waiting forever."""
    gate = WebFirst(longest_wait=60.0, linger=0.0)
    gate.opened(1)
    old = asyncio.new_event_loop()
    stale = old.create_task(gate.wait())
    old.run_until_complete(asyncio.sleep(0.01))  # queued, watcher running; then the loop stops
    assert not stale.done()
    gate.closed(1)

    async def fresh() -> None:
        await asyncio.wait_for(gate.wait(), 1)

    asyncio.run(fresh())
    old.close()

"""The core's turn-taking: arrival order, bounded holding, a cancelled waiter passes it on."""

from __future__ import annotations

import asyncio

from bot.first_come import FirstComeFirstServed


def test_turns_are_given_in_arrival_order_one_at_a_time() -> None:
    async def run() -> tuple[list[str], int]:
        gate = FirstComeFirstServed(slots=1, patience=5)
        log: list[str] = []
        busy = 0
        most = 0

        async def customer(name: str) -> None:
            nonlocal busy, most
            async with gate.turn():
                busy += 1
                most = max(most, busy)
                log.append(f"start {name}")
                await asyncio.sleep(0.01)  # a message that waits on the action server
                log.append(f"end {name}")
                busy -= 1

        tasks = []
        for name in "abcde":
            tasks.append(asyncio.create_task(customer(name)))
            await asyncio.sleep(0)  # arrive in this order
        await asyncio.gather(*tasks)
        return log, most

    log, most = asyncio.run(run())
    assert most == 1
    assert log == [f"{step} {name}" for name in "abcde" for step in ("start", "end")]


def test_a_holder_past_its_patience_lets_the_next_one_start() -> None:
    async def run() -> list[str]:
        gate = FirstComeFirstServed(slots=1, patience=0.05)
        log: list[str] = []

        async def stuck() -> None:
            async with gate.turn():
                log.append("stuck starts")
                await asyncio.sleep(0.5)
                log.append("stuck ends")

        async def next_one() -> None:
            await asyncio.sleep(0.01)
            async with gate.turn():
                log.append("next served")

        await asyncio.gather(stuck(), next_one())
        return log

    assert asyncio.run(run()) == ["stuck starts", "next served", "stuck ends"]


def test_a_cancelled_waiter_gives_its_place_to_the_one_behind() -> None:
    async def run() -> tuple[list[str], int]:
        gate = FirstComeFirstServed(slots=1, patience=5)
        log: list[str] = []
        release = asyncio.Event()

        async def first() -> None:
            async with gate.turn():
                await release.wait()

        async def waiter(name: str) -> None:
            async with gate.turn():
                log.append(name)

        holder = asyncio.create_task(first())
        await asyncio.sleep(0)
        cancelled = asyncio.create_task(waiter("cancelled"))
        behind = asyncio.create_task(waiter("behind"))
        await asyncio.sleep(0)
        cancelled.cancel()
        release.set()
        await asyncio.gather(holder, behind)
        return log, gate.free

    log, free = asyncio.run(run())
    assert log == ["behind"]
    assert free == 1  # every turn came back

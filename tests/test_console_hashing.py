"""The hashing gate: argon2 off the event loop, a few at a time, the rest refused at once."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from bot.console.hashing import Busy, HashingGate, hash_password, verify_password


def test_hash_and_verify() -> None:
    stored = hash_password("a long enough password")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "a long enough password")
    assert not verify_password(stored, "wrong") and not verify_password("not a hash", "x")
    assert not verify_password(None, "anything")  # no account: same work, always False


def test_work_runs_off_the_loop_and_the_loop_stays_free() -> None:
    gate = HashingGate(workers=2, waiting=2)
    loop_thread = threading.get_ident()

    def slow() -> int:
        time.sleep(0.3)
        return threading.get_ident()

    async def scenario() -> tuple[list[int], int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        beat = asyncio.create_task(ticker())
        threads = await asyncio.gather(gate.run("a", slow), gate.run("b", slow))
        beat.cancel()
        return threads, ticks

    threads, ticks = asyncio.run(scenario())
    assert loop_thread not in threads
    assert ticks >= 10  # the loop kept running while both hashed (~30 ticks in 0.3 s)
    assert gate.admitted == 0


def test_a_full_line_and_a_repeated_key_are_refused_at_once() -> None:
    gate = HashingGate(workers=1, waiting=1)
    release = threading.Event()

    async def scenario() -> list[object]:
        first = asyncio.create_task(gate.run("nurse@a", release.wait, 5))
        second = asyncio.create_task(gate.run("nurse@b", release.wait, 5))
        await asyncio.sleep(0.05)
        refused = []
        for key in ("nurse@a", "nurse@c"):  # same key in flight: 429; line full: 503
            with pytest.raises(Busy) as busy:
                await gate.run(key, release.wait, 5)
            refused.append(busy.value.status)
        release.set()
        await asyncio.gather(first, second)
        return refused

    assert asyncio.run(scenario()) == [429, 503]
    assert gate.admitted == 0

"""First come, first served: how the core takes turns between messages.

The core answers every message on one event loop, and the model's work is CPU-bound. If every
waiting message may advance a step at a time (what asyncio does by default), twenty messages that
arrive together all finish at about the time the last one could have: each waits for all the
others. Served in arrival order instead, the first is answered at once and the last no later than
before (measured with ``make bench``: the slowest first messages of twenty new conversations went
from about 0.75 s to 0.35 s, for the same throughput).

Two at a time, not one (``SMO_CORE_CONCURRENCY``, default 2): every message waits once or twice
for the action server, which runs in its own process on the other core, and with one turn the
core's loop sat idle meanwhile. With two, the next message's model work fills that wait. Measured
with twenty conversations at once, twelve runs each, interleaved: 81 → 93 msg/s (medians), p99
304 → 261 ms, the first wave no later. Three were no better than two.

A message that holds its turn longer than ``patience`` (an action server call that hangs) lets the
next one start, so one stuck message never stops the others for long.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator


class FirstComeFirstServed:
    """At most ``slots`` holders at a time, admitted strictly in the order they asked."""

    def __init__(self, slots: int = 1, patience: float = 0.5) -> None:
        self.free = max(1, slots)
        self.patience = patience
        self._waiting: deque[asyncio.Future[None]] = deque()

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait for this caller's turn; it ends on leaving the block or after ``patience``."""
        await self._acquire()
        done = False

        def release() -> None:
            nonlocal done
            if not done:
                done = True
                self._release()

        timer = asyncio.get_running_loop().call_later(self.patience, release)
        try:
            yield
        finally:
            timer.cancel()
            release()

    @property
    def waiting(self) -> int:
        """Callers waiting for a turn."""
        return sum(1 for future in self._waiting if not future.done())

    async def _acquire(self) -> None:
        if self.free > 0 and not self._waiting:
            self.free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        try:
            await future  # the slot is handed over by _release, so nobody can overtake
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # handed over just as we were cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiting.remove(future)
            raise

    def _release(self) -> None:
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_result(None)
                return
        self.free += 1

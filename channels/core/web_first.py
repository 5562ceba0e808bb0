"""Acknowledge first, answer after: message webhooks take precedence over background work.

The gateway's web loop (webhooks) and the channel runtime's loop (answering, sending) are two
threads of one process, so they share the interpreter lock and, on a small machine, the CPU with
the model. A provider retries a message webhook that is not acknowledged in time, so while message
webhooks are being handled the runtime holds its next step: forwarding a message to the model,
a database write, a send. Status callbacks do not count (nothing waits on them), nor does a
webhook that has stored its message and only waits for the answer (WeChat's passive reply).

A burst of webhooks arrives as a stream with gaps of a millisecond or two between one response
and the client's next request, so the web counts as busy for ``linger`` seconds after a webhook
closes: otherwise the runtime would slip whole steps into those gaps (measured: the model kept
answering through a burst of 300, and the acknowledgements waited for a CPU). The runtime's
waiting steps are let go one at a time, oldest first, each when the web is idle or once it has
waited ``longest_wait``: a flood of webhooks delays answers by at most that much per step, and
they are all stored durably meanwhile, but cannot stop them. A webhook the server never finished
(the client went away) is forgotten after ``grace`` seconds.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque


class WebFirst:
    """Open webhooks, shared between the web thread (which opens and closes them) and the
    runtime's thread (which waits for them)."""

    def __init__(self, longest_wait: float = 1.0, linger: float = 0.003,
                 grace: float = 0.5) -> None:
        self.longest_wait = longest_wait
        self.linger = linger
        self.grace = grace
        # The web thread writes ``_open`` and ``_last_closed`` while the runtime's thread reads
        # them and drops webhooks past ``grace``. One lock makes each step whole instead of
        # relying on the interpreter lock keeping single dict operations atomic: without it,
        # ``busy`` could run between ``closed``'s pop and its noting the close time, see
        # neither the webhook nor its close, and let a step in during the ``linger``.
        self._lock = threading.Lock()
        self._open: dict[int, float] = {}  # request id -> when it arrived (monotonic)
        self._last_closed = float("-inf")
        # The runtime's waiting steps, oldest first (runtime loop only), and the one task that
        # lets them go (a reference keeps it alive).
        self._waiting: deque[tuple[float, asyncio.Future[None]]] = deque()
        self._watcher: asyncio.Task[None] | None = None

    def opened(self, key: int) -> None:
        """A webhook arrived (web thread)."""
        with self._lock:
            self._open[key] = time.monotonic()

    def closed(self, key: int) -> None:
        """Its response is on its way, or it only waits for the answer now (web thread)."""
        with self._lock:
            if self._open.pop(key, None) is not None:
                self._last_closed = time.monotonic()

    def busy(self) -> bool:
        """Whether a webhook is being handled now or closed within ``linger`` (forgetting any
        open past ``grace``)."""
        now = time.monotonic()
        with self._lock:
            if self._open:
                oldest_allowed = now - self.grace
                for key in [key for key, since in self._open.items() if since < oldest_allowed]:
                    del self._open[key]
            return bool(self._open) or now - self._last_closed < self.linger

    def _until_idle(self, now: float) -> float:
        """The soonest the web can be idle: ``linger`` after the last webhook closed, or
        ``linger`` from now while one is open."""
        with self._lock:
            return self._last_closed + self.linger - now if not self._open else self.linger

    async def wait(self) -> None:
        """On the runtime's loop: let webhooks be handled first (at most ``longest_wait``).

        One watcher lets the waiting steps go one at a time: letting them all go together
        would run their steps back to back and hold the interpreter lock through the next
        webhooks, and hundreds of steps each polling every millisecond would spend the CPU
        the acknowledgements need."""
        loop = asyncio.get_running_loop()
        if self._watcher is not None and self._watcher.get_loop() is not loop:
            # The runtime was stopped and started again on a new loop: what waited on the old
            # one will never run (and its watcher neither), so it must not hold the new one.
            self._waiting.clear()
            self._watcher = None
        if not self.busy() and not self._waiting:
            return
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiting.append((time.monotonic() + self.longest_wait, waiter))
        if self._watcher is None or self._watcher.done():
            self._watcher = loop.create_task(self._let_go())
        await waiter

    async def _let_go(self) -> None:
        while self._waiting:
            deadline, waiter = self._waiting[0]
            now = time.monotonic()
            if self.busy() and now < deadline:
                # The web is idle ``linger`` after the last webhook closes at the soonest: no
                # need to look sooner (each look takes the interpreter lock from the web).
                soonest = self._until_idle(now)
                await asyncio.sleep(min(max(soonest, 0.001), deadline - now))
                continue
            self._waiting.popleft()
            if not waiter.done():  # a cancelled step is skipped
                waiter.set_result(None)
                await asyncio.sleep(0)  # its step runs before the next one is considered

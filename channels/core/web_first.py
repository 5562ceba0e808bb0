"""Acknowledge first, answer after: message webhooks take precedence over background work.

The gateway's web loop (webhooks) and the channel runtime's loop (answering, sending) are two
threads of one process, so they share the interpreter lock. A provider retries a message webhook
that is not acknowledged in time, so while message webhooks are open the runtime waits a moment
before its next database write (status callbacks do not count: nothing waits on them). The wait is
a few milliseconds, never more than ``longest_wait`` per write, so a flood of webhooks slows
answers down but cannot stop them. A webhook the server never finished (the client went away) is
forgotten after ``grace`` seconds.
"""

from __future__ import annotations

import asyncio
import time


class WebFirst:
    """Open webhooks, shared between the web thread (which opens and closes them) and the
    runtime's thread (which waits for them)."""

    def __init__(self, longest_wait: float = 0.02, grace: float = 0.5) -> None:
        self.longest_wait = longest_wait
        self.grace = grace
        self._open: dict[int, float] = {}  # request id -> when it arrived (monotonic)

    def opened(self, key: int) -> None:
        """A webhook arrived (web thread)."""
        self._open[key] = time.monotonic()

    def closed(self, key: int) -> None:
        """Its response is on its way (web thread)."""
        self._open.pop(key, None)

    def busy(self) -> bool:
        """Whether a webhook is being handled now (forgetting any past ``grace``)."""
        if not self._open:
            return False
        oldest_allowed = time.monotonic() - self.grace
        for key, since in list(self._open.items()):  # one atomic copy: the web thread writes
            if since < oldest_allowed:
                self._open.pop(key, None)
        return bool(self._open)

    async def wait(self) -> None:
        """On the runtime's loop: let open webhooks finish first (at most ``longest_wait``)."""
        if not self.busy():
            return
        deadline = time.monotonic() + self.longest_wait
        while self.busy() and time.monotonic() < deadline:
            await asyncio.sleep(0.001)

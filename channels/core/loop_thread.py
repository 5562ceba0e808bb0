"""The channel runtime's own event loop, in a background thread of the gateway.

Answering and sending run here, not on the web loop: the web loop only stores and acknowledges,
so a burst of answers never delays an acknowledgement. Other threads hand work over with
:meth:`LoopThread.call`; code already on the loop starts tasks with :meth:`LoopThread.spawn`,
which keeps a reference to each (so none is collected mid-run) and cancels them all on stop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any


class LoopThread:
    """One event loop running in one daemon thread, started and stopped on demand."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task] = set()

    @property
    def running(self) -> bool:
        return self.loop is not None

    def start(self, prepare: Callable[[], None]) -> None:
        """Start a new loop in a new thread; ``prepare()`` runs in that thread first (objects
        bound to the loop are made there)."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            prepare()
            ready.set()
            loop.run_forever()

        threading.Thread(target=serve, name=self.name, daemon=True).start()
        ready.wait()
        self.loop = loop

    def stop(self) -> None:
        """Cancel every task and stop the loop (from any thread)."""
        loop, self.loop = self.loop, None
        if loop is None:
            return

        def halt() -> None:
            for task in list(self._tasks):
                task.cancel()
            loop.stop()

        loop.call_soon_threadsafe(halt)

    def call(self, function: Callable[..., Any], *args: Any) -> None:
        """Run ``function(*args)`` on the loop, from any thread."""
        assert self.loop is not None, "ChannelRuntime.start() first"
        self.loop.call_soon_threadsafe(function, *args)

    def call_if_running(self, function: Callable[..., Any], *args: Any) -> None:
        """As :meth:`call`, doing nothing while stopped."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(function, *args)

    def spawn(self, coroutine: Awaitable[Any]) -> asyncio.Task:
        """A task on the loop (call on the loop)."""
        task = asyncio.ensure_future(coroutine, loop=self.loop)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

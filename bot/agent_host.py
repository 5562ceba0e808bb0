"""Runs the Rasa agent on its own thread and event loop, so webhooks never wait for the model.

Rasa's message handling is CPU work (NLU inference) and synchronous database work (the SQL tracker
store) on whatever event loop calls it. On the web server's loop that would hold every webhook's
acknowledgement hostage to the model. Here the agent lives on a dedicated loop in a background
thread; the web loop only stores, acknowledges and awaits results (:meth:`AgentHost.run`). The GIL
switch interval is shortened so the web thread gets the interpreter back within a millisecond.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
GIL_SWITCH_INTERVAL_S = 0.001


class AgentHost:
    """A background event loop that owns the agent; coroutines are submitted to it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.agent: Any = None
        self._thread = threading.Thread(target=self._serve, name="rasa-agent", daemon=True)
        self._thread.start()
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> Awaitable[T]:
        """Run ``coroutine`` on the agent's loop; await the result from any other loop."""
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.loop))

    async def load(self, loader: Callable[[asyncio.AbstractEventLoop], Coroutine[Any, Any, Any]]
                   ) -> Any:
        """Load the agent on its own loop (so everything it creates belongs to that loop)."""
        self.agent = await self.run(loader(self.loop))
        return self.agent

    def stop(self) -> None:
        """Stop the loop (at server shutdown)."""
        self.loop.call_soon_threadsafe(self.loop.stop)


class AgentProxy:
    """What the web side sees as ``app.ctx.agent``: message handling hops to the agent's loop.

    Everything else (``parse_message`` for ``/model/parse``, attributes) is the agent's own.
    """

    def __init__(self, host: AgentHost) -> None:
        self._host = host

    def __getattr__(self, name: str) -> Any:
        return getattr(self._host.agent, name)

    def is_ready(self) -> bool:
        return self._host.agent is not None and self._host.agent.is_ready()

    async def handle_message(self, message: Any) -> Any:
        return await self._host.run(self._host.agent.handle_message(message))

"""Run an aiohttp application on 127.0.0.1 in a background thread (for tests and tools).

Synchronous clients (twilio's and wechatpy's, both on ``requests``) block the thread that calls
them, so a fake they talk to must serve from another thread::

    with BackgroundServer(fake_twilio.create_app(token, sid)) as server:
        point_client_at(client, server.url)
        ...

Port 0 (the default) picks a free port; ``server.url`` is ``http://127.0.0.1:<port>``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web


class BackgroundServer:
    """An aiohttp app served by its own event loop in a daemon thread."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1", port: int = 0):
        self.app = app
        self.host = host
        self.port = port
        self.loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._started = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=10)
        self._started = True
        return self

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = site._server.sockets if site._server else []  # noqa: SLF001
        if sockets:
            self.port = sockets[0].getsockname()[1]

    def call(self, fn: Callable[[], Coroutine[Any, Any, Any]], timeout: float = 10) -> Any:
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(fn(), self.loop).result(timeout=timeout)

    def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(
                timeout=10
            )
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

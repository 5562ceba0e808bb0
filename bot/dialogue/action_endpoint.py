"""The action server endpoint, with one pooled HTTP session instead of one per call.

Stock ``EndpointConfig.request`` opens a new ``aiohttp.ClientSession`` (and so a new TCP
connection) for every action call and closes it afterwards. Our core calls the action server after
every message (the reply language is decided there), so that handshake was measured here at about
a tenth of the core's time per message. This endpoint is the stock one in every respect (URL,
headers, auth, token, timeouts, errors) except that the session is kept, per event loop, and
reused: keep-alive on loopback. A call that meets a connection the server has closed meanwhile
is made once more on a new one (stock would have opened a new one anyway). Every call carries the
action server's secret (:meth:`PooledEndpointConfig.for_action_server`), as a header of the
session and of each request.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

import aiohttp
import ujson
from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig


class _Borrowed:
    """``async with`` over a kept session: entering lends it, leaving does not close it."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self._session

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        return None


class PooledEndpointConfig(EndpointConfig):
    """``EndpointConfig`` whose ``session()`` lends one long-lived session per event loop
    (configured as stock's: headers, basic auth, timeout)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}

    @classmethod
    def for_action_server(cls, url: str, token: str) -> PooledEndpointConfig:
        """Our action server at ``url``: every call carries the secret it demands
        (:mod:`bot.action_server`); it refuses anyone else, so a missing secret is an error
        here, at start-up, rather than a 403 on every message."""
        from bot.action_server import TOKEN_HEADER, TOKEN_VARIABLE
        from bot.settings import SettingsError

        if not token:
            raise SettingsError(f"{TOKEN_VARIABLE} is not set: the core must send the action "
                             "server's secret (`make run` generates one; when starting the "
                             "processes yourself, give both the same value)")
        return cls(url=url, headers={TOKEN_HEADER: token})

    def session(self) -> Any:  # stock returns a session that ``async with`` closes
        loop = asyncio.get_running_loop()
        kept = self._sessions.get(loop)
        if kept is None or kept.closed:
            for old in [old for old in self._sessions if old.is_closed()]:
                del self._sessions[old]  # sessions of loops that have ended
            kept = self._sessions[loop] = aiohttp.ClientSession(
                headers=self.headers,
                auth=aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
                if self.basic_auth else None,
                timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
                # The request body (recent events and the domain) is encoded with ujson, which
                # Rasa already depends on: the same JSON, in under half the time of ``json``.
                json_serialize=ujson.dumps)
        return _Borrowed(kept)

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        """Stock request; a kept connection the server has closed meanwhile (it restarted, or
        its keep-alive ran out) is retried once on a fresh session, where stock would fail."""
        try:
            return await super().request(*args, **kwargs)
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
            kept = self._sessions.pop(asyncio.get_running_loop(), None)
            if kept is not None:
                await kept.close()
            return await super().request(*args, **kwargs)

    def copy(self) -> PooledEndpointConfig:
        return PooledEndpointConfig(self.url, self.params, self.headers, self.basic_auth,
                                    self.token, self.token_name, cafile=self.cafile,
                                    **self.kwargs)

"""The gateway's client for the core (the process that runs the Rasa model).

The public server (gateway) never imports the model: webhook acknowledgements must not wait for
it, and a TensorFlow-free gateway stays small. Everything that needs the model or the transcript
goes to the core over loopback HTTP: messages (internal channel), transcript reads and event
appends (Rasa's HTTP API, token-protected), ``/model/parse``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

TIMEOUT = aiohttp.ClientTimeout(total=120)


class CoreUnavailable(RuntimeError):
    """The core did not answer (still loading, or down); the caller retries later."""


# The header carrying the gateway-core secret (channels/internal.py checks it).
TOKEN_HEADER = "x-internal-token"


class CoreClient:
    """Async HTTP client for one core, sharing one connection pool."""

    def __init__(self, base_url: str, api_token: str, internal_token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_token = api_token
        self.internal_token = internal_token
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def ready(self) -> bool:
        """True once the core has loaded the model."""
        try:
            async with self._http().get(f"{self.base_url}/health",
                                        timeout=aiohttp.ClientTimeout(total=2)) as response:
                return response.status == 200 and (await response.json()).get(
                    "model") == "loaded"
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            return False

    async def handle(self, sender: str, text: str, channel: str, message_id: str,
                     metadata: dict[str, Any] | None = None, log_only: bool = False
                     ) -> tuple[list[dict[str, Any]], str | None]:
        """Run one message through the model; (bot messages, reply language)."""
        payload = {"sender": sender, "text": text, "input_channel": channel,
                   "message_id": message_id, "metadata": metadata or {}, "log_only": log_only}
        try:
            async with self._http().post(f"{self.base_url}/webhooks/internal/webhook",
                                         json=payload,
                                         headers={TOKEN_HEADER: self.internal_token}) as response:
                if response.status != 200:
                    raise CoreUnavailable(f"core answered {response.status}")
                data = await response.json()
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise CoreUnavailable(type(exc).__name__) from exc
        return data.get("messages") or [], data.get("language")

    async def tracker(self, conversation_id: str, *, events: bool = True) -> dict[str, Any]:
        """The conversation's tracker as JSON (events, slots); ``events=False``: slots and
        latest message only, without the whole transcript."""
        url = f"{self.base_url}/conversations/{_quote(conversation_id)}/tracker"
        params = {"token": self.api_token, "include_events": "ALL" if events else "NONE"}
        async with self._http().get(url, params=params) as response:
            if response.status != 200:
                raise CoreUnavailable(f"tracker read answered {response.status}")
            return await response.json()

    async def append(self, conversation_id: str, events: list[dict[str, Any]]) -> None:
        """Append events (pause, resume, staff messages) to the conversation."""
        url = f"{self.base_url}/conversations/{_quote(conversation_id)}/tracker/events"
        async with self._http().post(url, params={"token": self.api_token, "output_channel":
                                                  "latest", "execute_side_effects": "false"},
                                     json=events) as response:
            if response.status != 200:
                raise CoreUnavailable(f"event append answered {response.status}")

    async def forward(self, method: str, path: str, query: str, body: bytes,
                      headers: dict[str, str]) -> tuple[int, bytes, str]:
        """Relay one HTTP request to the core (REST channel, Rasa API)."""
        url = f"{self.base_url}{path}" + (f"?{query}" if query else "")
        try:
            async with self._http().request(method, url, data=body, headers=headers) as response:
                return (response.status, await response.read(),
                        response.headers.get("content-type", "application/json"))
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            return 503, b'{"error": "the assistant is starting or unavailable"}', "application/json"


def _quote(conversation_id: str) -> str:
    from urllib.parse import quote

    return quote(conversation_id, safe=":+")

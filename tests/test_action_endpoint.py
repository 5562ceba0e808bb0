"""The pooled action endpoint (bot.dialogue.action_endpoint) sends what stock ``EndpointConfig``
sends and returns what it returns; only the connection is kept (and renewed when the server
closed it)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import web
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

from bot.action_server import TOKEN_HEADER
from bot.dialogue.action_endpoint import PooledEndpointConfig

BODY = {"next_action": "action_x", "sender_id": "c", "tracker": {"events": [{"text": "你好 🙂"}]}}


class ActionServer:
    """A stand-in action server that records each request and the connection it came on."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append({
            "method": request.method, "path": request.path_qs,
            "token": request.headers.get(TOKEN_HEADER),
            "authorization": request.headers.get("Authorization"),
            "content_type": request.content_type, "body": json.loads(await request.read()),
            "connection": request.transport.get_extra_info("peername") if request.transport
            else None})
        if request.path == "/fail":
            return web.Response(status=500, text="broken action")
        return web.json_response({"events": [{"event": "slot", "name": "a", "value": "é"}],
                                  "responses": []})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/webhook", self.handle)
        app.router.add_post("/fail", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


def _without_connection(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "connection"} for r in requests]


def test_pooled_endpoint_sends_and_returns_what_stock_does() -> None:
    async def run() -> None:
        server = ActionServer()
        await server.start()
        url = f"http://127.0.0.1:{server.port}/webhook"
        opened: list[PooledEndpointConfig] = []
        try:
            stock = EndpointConfig(url=url, headers={TOKEN_HEADER: "k"})
            pooled = PooledEndpointConfig.for_action_server(url, "k")
            opened.append(pooled)
            stock_answers = [await stock.request(json=BODY, method="post") for _ in range(3)]
            stock_requests, server.requests = server.requests, []
            pooled_answers = [await pooled.request(json=BODY, method="post") for _ in range(3)]
            pooled_requests = server.requests
            assert pooled_answers == stock_answers
            assert stock_answers[0]["events"][0]["value"] == "é"
            assert _without_connection(pooled_requests) == _without_connection(stock_requests)
            assert pooled_requests[0]["token"] == "k" and pooled_requests[0]["body"] == BODY
            # Stock opens a connection per call; ours keeps one.
            assert len({r["connection"] for r in stock_requests}) == 3
            assert len({r["connection"] for r in pooled_requests}) == 1

            # An action server error reaches Rasa as the same error.
            errors = []
            failing = url.replace("/webhook", "/fail")
            for endpoint in (EndpointConfig(url=failing, headers={TOKEN_HEADER: "k"}),
                             pooled.copy()):
                endpoint.url = failing
                if isinstance(endpoint, PooledEndpointConfig):
                    opened.append(endpoint)
                with pytest.raises(ClientResponseError) as raised:
                    await endpoint.request(json=BODY, method="post")
                errors.append((raised.value.status, raised.value.text))
            assert errors[0] == errors[1] == (500, b"broken action")

            # The server restarts (its end of the kept connection is gone): the call is made
            # again on a new connection, where stock would have opened one anyway.
            await server.stop()
            await server.start()
            assert await pooled.request(json=BODY, method="post") == stock_answers[0]
        finally:
            await server.stop()
            for endpoint in opened:
                for session in endpoint._sessions.values():
                    await session.close()

    asyncio.run(run())

"""Fixtures for the sandbox tests: the fakes served on free loopback ports from threads."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import twilio.rest
from aiohttp import web

from channels.sandbox import defaults, fake_twilio, fake_wechat
from channels.sandbox.runner import BackgroundServer

SID = defaults.TWILIO_ACCOUNT_SID
TOKEN = defaults.TWILIO_AUTH_TOKEN


def _wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll until ``predicate()`` is truthy; return its value or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


@pytest.fixture()
def twilio_fake() -> Iterator[BackgroundServer]:
    app = fake_twilio.create_app(TOKEN, SID, status_delay=0.01)
    with BackgroundServer(app) as server:
        yield server


@pytest.fixture()
def twilio_client(twilio_fake: BackgroundServer) -> twilio.rest.Client:
    client = twilio.rest.Client(SID, TOKEN)
    return fake_twilio.point_client_at(client, twilio_fake.url)


@pytest.fixture()
def wechat_fake() -> Iterator[BackgroundServer]:
    app = fake_wechat.create_app(defaults.WECHAT_APP_ID, defaults.WECHAT_APP_SECRET)
    with BackgroundServer(app) as server:
        yield server


class Receiver:
    """A loopback HTTP endpoint that records every request it gets (status callbacks)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.server = BackgroundServer(app)

    async def _handle(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.requests.append(
            {
                # request.url breaks with aiohttp 3.9.5 + this yarl (host with a port)
                "url": f"{request.scheme}://{request.headers['Host']}{request.path_qs}",
                "path": request.path,
                "form": {key: form[key] for key in form},
                "headers": dict(request.headers),
            }
        )
        return web.Response(text="")

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    with rec.server:
        yield rec


def _sandbox_get(server: BackgroundServer, path: str, **params: str) -> Any:
    response = requests.get(server.url + path, params=params, timeout=5)
    response.raise_for_status()
    return response.json()


@pytest.fixture()
def wait_for() -> Callable[..., Any]:
    """``wait_for(predicate, timeout=5)``: poll until the predicate holds."""
    return _wait_for


@pytest.fixture()
def sandbox_get() -> Callable[..., Any]:
    """``sandbox_get(server, path, **query)``: GET a JSON sandbox endpoint."""
    return _sandbox_get

"""A WeChat reply slower than WeChat's 5 seconds: acknowledged in time, delivered later; and a
quick one answered passively without waiting for its own webhook.

The real WeChat channel and runtime, with a stand-in agent that takes 6 s to answer "slow" and
the fake WeChat API on loopback; the webhook must answer ``success`` well within 5 s and the reply
must then arrive through the customer-service API, once.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import urllib.parse
import urllib.request

import pytest
from sanic import Sanic

from bot.events import EventBus
from channels.core.runtime import ChannelRuntime
from channels.sandbox import defaults, fake_wechat, signing
from channels.sandbox.runner import BackgroundServer
from channels.settings import WeChatSettings
from channels.wechat import WeChatInput

SLOW_S = 6.0


class SlowCore:
    """Stands in for the model process: answers with the text reversed, after ``SLOW_S`` s if
    the text is "slow", noting whether a webhook was being handled when the message came."""

    def __init__(self) -> None:
        self.runtime: ChannelRuntime | None = None
        self.web_busy: list[bool] = []

    async def handle(self, sender, text, channel, message_id, metadata=None, log_only=False):  # noqa: ANN001, ANN201
        assert self.runtime is not None
        self.web_busy.append(self.runtime.web_first.busy())
        if text == "slow":
            await asyncio.sleep(SLOW_S)
        return [{"text": text[::-1]}], "en"


def serve(app: Sanic, port: int) -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
    loop = asyncio.new_event_loop()
    started = threading.Event()

    async def run() -> None:
        server = await app.create_server(host="127.0.0.1", port=port,
                                         return_asyncio_server=True)
        await server.startup()
        await server.before_start()
        await server.after_start()
        started.set()
        await server.serve_forever()

    thread = threading.Thread(target=lambda: loop.run_until_complete(run()), daemon=True)
    thread.start()
    assert started.wait(10)
    return loop, thread


@pytest.fixture()
def slow_server(database: str):  # noqa: ANN201
    with BackgroundServer(fake_wechat.create_app(defaults.WECHAT_APP_ID,
                                                 defaults.WECHAT_APP_SECRET)) as fake:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        settings = WeChatSettings(app_id=defaults.WECHAT_APP_ID,
                                  app_secret=defaults.WECHAT_APP_SECRET,
                                  token=defaults.WECHAT_TOKEN, api_url=fake.url)
        app = Sanic(f"late_reply_{port}")
        channel = WeChatInput(settings)
        state: dict = {}
        core = SlowCore()

        @app.listener("after_server_start")
        async def start_runtime(app_: Sanic, _loop) -> None:  # noqa: ANN001
            runtime = ChannelRuntime(core, EventBus())
            runtime.web_first.grace = 60.0  # an open webhook is not forgotten during the test
            channel.attach(runtime)
            runtime.start()
            state["runtime"] = core.runtime = runtime

        # As the gateway does (bot/gateway.py): the message webhook counts as being handled.
        @app.on_request
        async def opened(request) -> None:  # noqa: ANN001
            state["runtime"].web_first.opened(id(request))

        @app.on_response
        async def closed(request, _response) -> None:  # noqa: ANN001
            state["runtime"].web_first.closed(id(request))

        app.blueprint(channel.blueprint(lambda m: None), url_prefix="/webhooks/wechat")
        serve(app, port)
        yield f"http://127.0.0.1:{port}", fake.url, core
        if "runtime" in state:
            state["runtime"].stop()


def _post(base: str, user: str, text: str, message_id: int) -> tuple[str, float]:
    """A signed WeChat text message: (the webhook's answer, seconds it took)."""
    timestamp, nonce = int(time.time()), signing.wechat_nonce()
    params = urllib.parse.urlencode({
        "timestamp": timestamp, "nonce": nonce,
        "signature": signing.wechat_signature(defaults.WECHAT_TOKEN, timestamp, nonce)})
    xml = signing.wechat_text_xml(defaults.WECHAT_ORIGINAL_ID, user, text, message_id)
    started = time.monotonic()
    with urllib.request.urlopen(urllib.request.Request(
            f"{base}/webhooks/wechat/webhook?{params}", xml.encode(), method="POST"),
            timeout=10) as response:
        body = response.read().decode()
    return body, time.monotonic() - started


def test_slow_answer_is_acknowledged_then_delivered(slow_server) -> None:
    base, fake, core = slow_server
    # First a quick one. Once stored, the webhook only waits for its passive reply: it must not
    # count as being handled, or the runtime would hold that very answer (channels/core/
    # web_first.py) for up to a second per step.
    from bot import metrics

    def sent_count() -> float:
        return metrics.REGISTRY.get_sample_value("smo_messages_out_total",
                                                 {"channel": "wechat"}) or 0.0

    before = sent_count()
    body, _elapsed = _post(base, "oQuick1", "hello", 41)
    assert "olleh" in body  # answered passively, in the webhook's response
    assert core.web_busy == [False]
    assert sent_count() == before + 1  # a passive reply is a message out too (/metrics)

    body, elapsed = _post(base, "oSlow1", "slow", 42)
    assert body == "success"
    assert elapsed < 5.0
    deadline = time.monotonic() + SLOW_S + 10
    sent: list = []
    while time.monotonic() < deadline and not sent:
        with urllib.request.urlopen(f"{fake}/_sandbox/messages?touser=oSlow1") as response:
            import json

            data = json.loads(response.read())
            sent = data if isinstance(data, list) else data.get("messages", [])
        time.sleep(0.2)
    assert [m["text"]["content"] for m in sent] == ["wols"]

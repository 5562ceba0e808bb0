"""The channel runtime against the fake providers, with a stand-in for the model process.

Covers what the end-to-end tests cannot provoke easily: WeChat's token refresh, the 45015 hold
released by the customer's next message, WhatsApp's template after the 24-hour window, and the
rate limit's single polite answer (while the message is still recorded).
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from bot.db import session
from channels.core.models import Contact
from channels.core.ratelimit import RateLimiter
from channels.core.runtime import ChannelRuntime
from channels.sandbox import defaults, fake_twilio, fake_wechat
from channels.sandbox.runner import BackgroundServer
from channels.settings import TwilioSettings, WeChatSettings
from channels.wechat import WeChatAdapter
from channels.whatsapp import TwilioAdapter


class EchoCore:
    """Answers every message with ``echo: <text>``; remembers log-only calls."""

    def __init__(self) -> None:
        self.logged: list[str] = []

    async def handle(self, sender: str, text: str, channel: str, message_id: str,
                     metadata: Any = None, log_only: bool = False) -> tuple[list[dict], str]:
        if log_only:
            self.logged.append(text)
            return [], "en"
        return [{"text": f"echo: {text}"}], "en"


class RecordingBus:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    async def publish(self, topic: str, payload: dict) -> None:
        self.events.append((topic, payload))


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def post(url: str, payload: dict | None = None) -> None:
    request = urllib.request.Request(url, json.dumps(payload or {}).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).read()


def wait_until(check, timeout: float = 15.0) -> Any:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    return check()


def messages(fake: str, **query: str) -> list[dict]:
    data = get_json(f"{fake}/_sandbox/messages?{urllib.parse.urlencode(query)}")
    return data if isinstance(data, list) else data.get("messages", [])


import urllib.parse  # noqa: E402  (used by messages())


@pytest.fixture()
def wechat(database: str):  # noqa: ANN201
    with BackgroundServer(fake_wechat.create_app(defaults.WECHAT_APP_ID,
                                                 defaults.WECHAT_APP_SECRET)) as fake:
        bus = RecordingBus()
        runtime = ChannelRuntime(EchoCore(), bus)  # type: ignore[arg-type]
        settings = WeChatSettings(app_id=defaults.WECHAT_APP_ID,
                                  app_secret=defaults.WECHAT_APP_SECRET,
                                  token=defaults.WECHAT_TOKEN, api_url=fake.url)
        adapter = WeChatAdapter(settings, runtime)
        runtime.register(adapter)
        runtime.start()
        yield runtime, adapter, fake.url, bus
        runtime.stop()


def test_wechat_token_is_fetched_once_and_refreshed(wechat) -> None:
    runtime, _adapter, fake, _bus = wechat
    runtime.accept("wechat", "m1", "oA", "text", "one")
    assert wait_until(lambda: messages(fake, touser="oA"))
    runtime.accept("wechat", "m2", "oA", "text", "two")
    assert wait_until(lambda: len(messages(fake, touser="oA")) == 2)
    assert get_json(f"{fake}/_sandbox/stats")["token_fetches"] == 1  # cached and reused
    post(f"{fake}/_sandbox/expire_tokens", {"mode": "expired"})  # next call gets 42001
    runtime.accept("wechat", "m3", "oA", "text", "three")
    assert wait_until(lambda: len(messages(fake, touser="oA")) == 3)
    assert get_json(f"{fake}/_sandbox/stats")["token_fetches"] == 2
    assert [m["text"]["content"] for m in messages(fake, touser="oA")] == [
        "echo: one", "echo: two", "echo: three"]


def test_wechat_quota_error_holds_until_the_customer_writes(wechat) -> None:
    runtime, _adapter, fake, bus = wechat
    post(f"{fake}/_sandbox/faults", {"errcode": 45015, "count": 1})
    runtime.accept("wechat", "h1", "oB", "text", "first")
    assert wait_until(lambda: ("delivery", {"recipient": "oB", "status": "held",
                                            "error": "wechat 45015"}) in bus.events)
    assert messages(fake, touser="oB") == []
    runtime.accept("wechat", "h2", "oB", "text", "again")  # the customer writes: held goes out
    sent = wait_until(lambda: len(messages(fake, touser="oB")) == 2 and messages(fake, touser="oB"))
    assert [m["text"]["content"] for m in sent] == ["echo: first", "echo: again"]


def test_wechat_reply_outside_48_hours_is_held(wechat) -> None:
    import asyncio

    runtime, adapter, fake, _bus = wechat
    runtime.accept("wechat", "w1", "oC", "text", "hello")
    wait_until(lambda: messages(fake, touser="oC"))
    with session() as db:
        db.execute(update(Contact).where(Contact.sender == "oC")
                   .values(last_inbound_at=datetime.utcnow() - timedelta(hours=49)))
    delivery = asyncio.run(adapter.deliver("oC", "nurse reply"))
    assert delivery.status == "held"
    time.sleep(1)
    assert len(messages(fake, touser="oC")) == 1


def test_whatsapp_template_after_24_hours(database: str) -> None:
    import asyncio

    with BackgroundServer(fake_twilio.create_app(defaults.TWILIO_AUTH_TOKEN,
                                                 defaults.TWILIO_ACCOUNT_SID)) as fake:
        runtime = ChannelRuntime(EchoCore(), RecordingBus())  # type: ignore[arg-type]
        settings = TwilioSettings(
            account_sid=defaults.TWILIO_ACCOUNT_SID, auth_token=defaults.TWILIO_AUTH_TOKEN,
            whatsapp_from=defaults.TWILIO_WHATSAPP_FROM, api_url=fake.url,
            public_base_url="http://127.0.0.1:9", template_content_sid="HX" + "1" * 32)
        adapter = TwilioAdapter(settings, runtime)
        runtime.register(adapter)
        runtime.start()
        who = "whatsapp:+85290000001"
        runtime.accept("whatsapp", "SM1", who, "text", "hi")
        wait_until(lambda: messages(fake.url, to=who))
        inside = asyncio.run(adapter.deliver(who, "within the window"))
        with session() as db:
            db.execute(update(Contact).where(Contact.sender == who)
                       .values(last_inbound_at=datetime.utcnow() - timedelta(hours=25)))
        outside = asyncio.run(adapter.deliver(who, "after the window"))
        assert (inside.status, outside.status) == ("queued", "template")
        wait_until(lambda: len(messages(fake.url, to=who)) == 3)
        sent = messages(fake.url, to=who)
        runtime.stop()
        assert sent[1]["body"] == "within the window"
        assert sent[2]["content_sid"] == "HX" + "1" * 32


def _limited_runtime(core: EchoCore, fake_url: str) -> ChannelRuntime:
    """A started runtime for WeChat with a limit of one message per minute."""
    runtime = ChannelRuntime(core, RecordingBus(), RateLimiter(per_minute=1, burst=1))  # type: ignore[arg-type]
    settings = WeChatSettings(app_id=defaults.WECHAT_APP_ID,
                              app_secret=defaults.WECHAT_APP_SECRET,
                              token=defaults.WECHAT_TOKEN, api_url=fake_url)
    runtime.register(WeChatAdapter(settings, runtime))
    runtime.start()
    return runtime


def test_rate_limit_answers_once_and_records(database: str) -> None:
    with BackgroundServer(fake_wechat.create_app(defaults.WECHAT_APP_ID,
                                                 defaults.WECHAT_APP_SECRET)) as fake:
        core = EchoCore()
        runtime = _limited_runtime(core, fake.url)
        for i in range(4):
            runtime.accept("wechat", f"r{i}", "oR", "text", f"message {i}")
        wait_until(lambda: len(messages(fake.url, touser="oR")) >= 2)
        texts = [m["text"]["content"] for m in messages(fake.url, touser="oR")]
        assert texts[0] == "echo: message 0"
        assert "quickly" in texts[1]  # utter_rate_limited, once
        time.sleep(1)
        assert len(messages(fake.url, touser="oR")) == 2
        runtime.stop()
        assert core.logged == ["message 1", "message 2", "message 3"]  # nothing lost


def test_an_emergency_is_answered_over_the_rate_limit(database: str) -> None:
    """Someone in trouble types fast: an emergency past the limit still reaches the model (and
    its 999 answer); other messages past the limit are recorded only."""
    with BackgroundServer(fake_wechat.create_app(defaults.WECHAT_APP_ID,
                                                 defaults.WECHAT_APP_SECRET)) as fake:
        core = EchoCore()
        runtime = _limited_runtime(core, fake.url)
        texts = ["message 0", "message 1", "I have crushing chest pain right now", "心口又好痛"]
        for i, text in enumerate(texts):
            runtime.accept("wechat", f"e{i}", "oE", "text", text)
        wait_until(lambda: len(messages(fake.url, touser="oE")) >= 4)
        sent = [m["text"]["content"] for m in messages(fake.url, touser="oE")]
        runtime.stop()
        assert sent[0] == "echo: message 0"
        assert "quickly" in sent[1]
        assert sent[2:] == [f"echo: {texts[2]}", f"echo: {texts[3]}"]
        assert core.logged == ["message 1"]


class OrderCore(EchoCore):
    """Echoes, remembering the order in which messages reached the model."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []

    async def handle(self, sender: str, text: str, channel: str, message_id: str,
                     metadata: Any = None, log_only: bool = False) -> tuple[list[dict], str]:
        self.order.append(text)
        return await super().handle(sender, text, channel, message_id, metadata, log_only)


def test_messages_stored_during_webhooks_wait_then_go_in_arrival_order(wechat) -> None:
    """While a message webhook is handled nothing goes to the model; afterwards every message
    stored meanwhile does, oldest first, and the runtime's thread was woken once for them all
    (each wake-up takes the interpreter lock from the web thread).

    Deterministic on a loaded machine: the runtime's start-up recovery is over before the
    webhook opens (one message answered and sent first: otherwise recovery could find the
    messages stored below and start their workers itself), and the webhook stays open however
    long storing five messages takes here (``grace``, after which a webhook the server never
    finished is forgotten, and ``longest_wait``, the most a step waits for webhooks, are the
    product's safety nets, 0.5 s and 1 s, tested in tests/test_web_first.py: on a busy machine
    the five stores and the 0.3 s below outlasted them, and the steps were let go early)."""
    runtime, _adapter, fake, _bus = wechat
    runtime.accept("wechat", "warm-up", "oOrderWarmUp", "text", "warm-up")
    assert wait_until(lambda: len(messages(fake)) == 1)  # answered and sent: recovery is over
    runtime.web_first.grace = runtime.web_first.longest_wait = 600.0
    core = OrderCore()
    runtime.core = core
    wakes: list[Any] = []
    call = runtime._call

    def counting_call(function: Any, *args: Any) -> None:
        wakes.append(args[0] if args else function)
        call(function, *args)

    runtime._call = counting_call  # type: ignore[method-assign]
    runtime.web_first.opened(1)  # a webhook is being handled
    for i in range(5):
        runtime.accept("wechat", f"o{i}", f"oOrder{i}", "text", f"m{i}")
    time.sleep(0.3)
    assert core.order == []  # held while the webhook is open
    runtime.web_first.closed(1)
    assert wait_until(lambda: len(core.order) == 5)
    assert core.order == [f"m{i}" for i in range(5)]
    takes = [w for w in wakes if getattr(getattr(w, "cr_code", None), "co_name", "")
             == "_take_arrivals"]
    assert len(takes) == 1 and len(wakes) < 5
    runtime.accept("wechat", "o5", "oOrder5", "text", "m5")  # after the run: woken again
    assert wait_until(lambda: core.order[-1:] == ["m5"])
    assert wait_until(lambda: len(messages(fake)) >= 7)  # the warm-up's answer and these six

"""Forged provider signatures are refused by the webhooks themselves, fast: no server started.

The WhatsApp (Twilio) and WeChat webhooks' handlers are called in-process with the real channel,
the real channel runtime and a fresh database, and a stand-in for the model process. A request
signed as the provider signs it is accepted (so the harness is known to reach the runtime); the
same request with a forged or missing signature is refused with 403 and leaves nothing behind:
nothing stored in the inbox, nothing handed to the model, no delivery status written.
(tests/test_wechat_auth.py checks the WeChat verifier alone; the end-to-end attacks on the running
product are in tests/security and tests/test_hostile_input.py.)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from sanic import Blueprint
from sqlalchemy import func, select

from bot.db import read_connection, transaction
from bot.events import EventBus
from channels.core.models import InboundMessage, OutboundMessage
from channels.core.runtime import ChannelRuntime
from channels.sandbox import defaults, signing
from channels.settings import TwilioSettings, WeChatSettings
from channels.wechat import WeChatInput
from channels.whatsapp import WhatsAppInput

PUBLIC = "https://smo.example.com"
FORM = {"content-type": "application/x-www-form-urlencoded"}


class SilentCore:
    """Stands in for the model process: records what reaches it and answers nothing (so nothing
    is sent to a provider)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def handle(self, sender, text, channel, message_id, metadata=None, log_only=False):  # noqa: ANN001, ANN201
        self.seen.append(text)
        return [], "en"


@dataclass
class FakeRequest:
    """What the webhooks read of Sanic's request (their handlers are called directly: a Sanic
    server started twice in one process breaks on Sanic 21.12's method rewriting)."""

    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    args: dict[str, str] = field(default_factory=dict)
    query_string: str = ""


def route(blueprint: Blueprint, uri: str, method: str) -> Any:
    """The handler a blueprint registers for ``method uri``."""
    return next(r.handler for r in blueprint._future_routes
                if r.uri == uri and method in r.methods)


def call(handler: Any, request: FakeRequest) -> tuple[int, str]:
    response = asyncio.run(handler(request))
    return response.status, response.body.decode()


def stored(table: Any = InboundMessage) -> int:
    with read_connection() as db:
        return db.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.fixture()
def runtime(database: str) -> Iterator[tuple[ChannelRuntime, SilentCore]]:
    """The real channel runtime on a fresh database, started (its worker thread joined at the
    end, so it never reaches the next test's database)."""
    core = SilentCore()
    runtime = ChannelRuntime(core, EventBus())
    before = set(threading.enumerate())
    yield runtime, core
    runtime.stop()
    for worker in [t for t in threading.enumerate() if t not in before]:
        worker.join(10)


# ------------------------------------------------------------------------------------ WhatsApp


@pytest.fixture()
def whatsapp(runtime: tuple[ChannelRuntime, SilentCore]) -> tuple[Blueprint, SilentCore]:
    runtime_, core = runtime
    settings = TwilioSettings(
        account_sid=defaults.TWILIO_ACCOUNT_SID, auth_token=defaults.TWILIO_AUTH_TOKEN,
        whatsapp_from=defaults.TWILIO_WHATSAPP_FROM, api_url="http://127.0.0.1:9",
        public_base_url=PUBLIC)
    channel = WhatsAppInput(settings)
    channel.attach(runtime_)
    runtime_.start()
    return channel.blueprint(lambda message: None), core


def twilio_post(path: str, form: dict[str, str], signature: str | None) -> FakeRequest:
    headers = dict(FORM)
    if signature is not None:
        headers["x-twilio-signature"] = signature
    return FakeRequest(path, urlencode(form).encode(), headers)


def test_whatsapp_message_with_a_forged_signature_is_refused(whatsapp) -> None:  # noqa: ANN001
    blueprint, core = whatsapp
    receive = route(blueprint, "/webhook", "POST")
    path = "/webhooks/whatsapp/webhook"
    form = signing.twilio_inbound_form("+85291230001", body="my policy number is CI10000001")
    genuine = signing.twilio_signature(defaults.TWILIO_AUTH_TOKEN, PUBLIC + path, form)
    forgeries = {
        "no signature": None,
        "empty": "",
        "another auth token": signing.twilio_signature("not-our-token", PUBLIC + path, form),
        "another URL": signing.twilio_signature(defaults.TWILIO_AUTH_TOKEN,
                                                "https://evil.example" + path, form),
        "one character changed": genuine[:-2] + ("A" if genuine[-2] != "A" else "B") + "=",
    }
    for name, signature in forgeries.items():
        assert call(receive, twilio_post(path, form, signature))[0] == 403, name
    # A genuine signature over another body does not carry this one.
    tampered = {**form, "Body": "close my case"}
    assert call(receive, twilio_post(path, tampered, genuine))[0] == 403
    assert stored() == 0 and core.seen == []
    # The same request as Twilio signs it goes in (the refusals above were the signature's).
    status, body = call(receive, twilio_post(path, form, genuine))
    assert status == 200 and "<Response>" in body
    assert stored() == 1


def test_whatsapp_status_callback_with_a_forged_signature_is_refused(whatsapp) -> None:  # noqa: ANN001
    blueprint, _core = whatsapp
    status_route = route(blueprint, "/status", "POST")
    path = "/webhooks/whatsapp/status"
    now = datetime.utcnow()
    with transaction() as db:  # a reply we sent, whose delivery Twilio reports
        db.execute(OutboundMessage.__table__.insert(), {
            "channel": "whatsapp", "recipient": "whatsapp:+85291230002", "dedup_key": "k:0",
            "kind": "text", "text": "hello", "status": "sent", "attempts": 1,
            "provider_ref": "SM" + "1" * 32, "next_attempt_at": now, "created_at": now})
    form = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "undelivered",
            "AccountSid": defaults.TWILIO_ACCOUNT_SID}
    forged = signing.twilio_signature("not-our-token", PUBLIC + path, form)
    assert call(status_route, twilio_post(path, form, forged))[0] == 403
    assert call(status_route, twilio_post(path, form, None))[0] == 403

    def delivery() -> str | None:
        with read_connection() as db:
            return db.execute(select(OutboundMessage.delivery_status)).scalar_one()

    assert delivery() is None
    genuine = signing.twilio_signature(defaults.TWILIO_AUTH_TOKEN, PUBLIC + path, form)
    assert call(status_route, twilio_post(path, form, genuine))[0] == 204
    assert delivery() == "undelivered"


# -------------------------------------------------------------------------------------- WeChat


@pytest.fixture(params=["plain", "safe"])
def wechat(request: pytest.FixtureRequest,
           runtime: tuple[ChannelRuntime, SilentCore]) -> tuple[Blueprint, SilentCore, bool]:
    runtime_, core = runtime
    safe = request.param == "safe"
    settings = WeChatSettings(
        app_id=defaults.WECHAT_APP_ID, app_secret=defaults.WECHAT_APP_SECRET,
        token=defaults.WECHAT_TOKEN, api_url="http://127.0.0.1:9",
        encoding_aes_key=defaults.WECHAT_ENCODING_AES_KEY if safe else None,
        reply_wait_seconds=0.2)
    channel = WeChatInput(settings)
    channel.attach(runtime_)
    runtime_.start()
    return channel.blueprint(lambda message: None), core, safe


def wechat_post(query: dict[str, str], body: str) -> FakeRequest:
    return FakeRequest("/webhooks/wechat/webhook", body.encode(), args=query,
                       query_string=urlencode(query))


def test_wechat_message_with_a_forged_signature_is_refused(wechat) -> None:  # noqa: ANN001
    blueprint, core, safe = wechat
    receive = route(blueprint, "/webhook", "POST")
    xml = signing.wechat_text_xml(defaults.WECHAT_ORIGINAL_ID, "oForged1", "my policy is CI1",
                                  signing.wechat_msg_id())
    query, body = signing.wechat_push(xml, safe_mode=safe)
    forged_with = signing.wechat_push(xml, safe_mode=safe, token="not-our-token",
                                      timestamp=query["timestamp"], nonce=query["nonce"])[0]
    forgeries = {
        "no signature": {k: v for k, v in query.items() if k != "signature"},
        "zeros": {**query, "signature": "0" * 40},
        "another token": {**query, "signature": forged_with["signature"]},
    }
    if safe:
        forgeries["forged msg_signature"] = {**query, "msg_signature": forged_with["msg_signature"]}
        forgeries["no msg_signature"] = {k: v for k, v in query.items() if k != "msg_signature"}
    for name, forged in forgeries.items():
        assert call(receive, wechat_post(forged, body))[0] == 403, name
    assert stored() == 0 and core.seen == []
    status, _ = call(receive, wechat_post(query, body))  # as WeChat signs it: accepted
    assert status == 200 and stored() == 1


def test_wechat_url_check_with_a_forged_signature_echoes_nothing(wechat) -> None:  # noqa: ANN001
    blueprint, _core, _safe = wechat
    verify = route(blueprint, "/webhook", "GET")
    query, _ = signing.wechat_push("<xml/>", safe_mode=False)
    query["echostr"] = "echo-4411"
    assert call(verify, wechat_post({**query, "signature": "0" * 40}, "")) == (
        403, "invalid signature")
    assert call(verify, wechat_post(query, "")) == (200, "echo-4411")

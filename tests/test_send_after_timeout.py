"""A send that timed out may have arrived: before sending it again the runtime asks the provider.

A provider that accepts a message and answers too late looks, to the sender, exactly like one that
never got it. Sending again blindly would give the customer the reply twice; so a row whose last
attempt ended in a network error is first reconciled with the provider (``reconcile``): found, it
is recorded as sent under the provider's id and not sent again; not found, it is sent again, once.

Through the channel runtime's public interface (``register``, ``start``, ``enqueue_text``,
``stop``) and the outbox it writes, so the tests hold however the runtime is split into modules:
first with a stand-in provider that records the order of calls, then with the real WhatsApp
adapter against the fake Twilio, which records a message and then answers later than the
client waits. (Only the slow scale-out test reached this path before, and only by chance.)
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from bot.db import read_connection
from bot.events import EventBus
from channels.core.models import Contact, OutboundMessage
from channels.core.runtime import ChannelRuntime, SendResult
from channels.sandbox import defaults, fake_twilio
from channels.sandbox.runner import BackgroundServer
from channels.settings import TwilioSettings


class NoCore:
    """The model process is not needed: these messages are written outside the dialogue."""

    async def handle(self, *args: Any, **kwargs: Any) -> tuple[list[dict], str]:
        raise AssertionError("no customer message in these tests")


class SlowProvider:
    """A provider whose first answer is lost in the network: ``arrives`` says whether the message
    got there all the same. It records every call, in order."""

    name = "slowprovider"
    limit = 1000

    def __init__(self, arrives: bool) -> None:
        self.arrives = arrives
        self.calls: list[str] = []
        self.received: list[tuple[str, str, str]] = []  # (provider id, recipient, text)

    def measure(self, text: str) -> int:
        return len(text)

    def window_open(self, contact: Contact | None, now: datetime) -> bool:
        return True

    async def send(self, row: OutboundMessage) -> SendResult:
        self.calls.append("send")
        ref = f"P{len(self.received) + 1}"
        if len(self.calls) == 1:  # the first send: no answer in time
            if self.arrives:
                self.received.append((ref, row.recipient, row.text))
            return SendResult("retry", error="network: TimeoutError")
        self.received.append((ref, row.recipient, row.text))
        return SendResult("sent", provider_ref=ref)

    async def reconcile(self, row: OutboundMessage) -> str | None:
        self.calls.append("reconcile")
        return next((ref for ref, recipient, text in self.received
                     if recipient == row.recipient and text == row.text), None)


def outbox() -> list[Any]:
    with read_connection() as db:
        return db.execute(select(OutboundMessage.status, OutboundMessage.provider_ref,
                                 OutboundMessage.attempts).order_by(OutboundMessage.id)).all()


def wait_until(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    return check()


@pytest.fixture()
def runtime(database: str) -> Iterator[ChannelRuntime]:
    """A runtime on a fresh database; stopped and its thread joined at the end."""
    runtime = ChannelRuntime(NoCore(), EventBus())
    before = set(threading.enumerate())
    yield runtime
    runtime.stop()
    for worker in [t for t in threading.enumerate() if t not in before]:
        worker.join(10)


def test_a_message_that_arrived_despite_the_timeout_is_not_sent_again(
        runtime: ChannelRuntime) -> None:
    provider = SlowProvider(arrives=True)
    runtime.register(provider)
    runtime.start()
    runtime.enqueue_text(provider.name, "customer-1", "Your case CS-1 is with a nurse.", "k1")
    assert wait_until(lambda: outbox()[0].status == "sent")
    time.sleep(0.5)  # anything else it would do, done
    assert provider.calls == ["send", "reconcile"]
    assert len(provider.received) == 1  # the customer got it once
    assert outbox()[0].provider_ref == "P1"  # recorded under the id the provider gave it


def test_a_message_that_never_arrived_is_sent_again_once(runtime: ChannelRuntime) -> None:
    provider = SlowProvider(arrives=False)
    runtime.register(provider)
    runtime.start()
    runtime.enqueue_text(provider.name, "customer-2", "Your case CS-2 is with a nurse.", "k2")
    assert wait_until(lambda: outbox()[0].status == "sent")
    time.sleep(0.5)
    assert provider.calls == ["send", "reconcile", "send"]
    assert provider.received == [("P1", "customer-2", "Your case CS-2 is with a nurse.")]


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _post(url: str, payload: dict) -> None:
    request = urllib.request.Request(url, json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).read()


def test_whatsapp_reply_accepted_by_a_slow_twilio_goes_out_once(
        runtime: ChannelRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    from channels import whatsapp

    # The client waits half a second; the fake Twilio records the message, then answers after 2.
    monkeypatch.setattr(whatsapp, "SEND_TIMEOUT_S", 0.5)
    app = fake_twilio.create_app(defaults.TWILIO_AUTH_TOKEN, defaults.TWILIO_ACCOUNT_SID,
                                 status_callbacks=False)
    with BackgroundServer(app) as fake:
        _post(f"{fake.url}/_sandbox/faults", {"delay": 2, "count": 1})
        settings = TwilioSettings(
            account_sid=defaults.TWILIO_ACCOUNT_SID, auth_token=defaults.TWILIO_AUTH_TOKEN,
            whatsapp_from=defaults.TWILIO_WHATSAPP_FROM, api_url=fake.url,
            public_base_url="http://127.0.0.1:9")
        runtime.register(whatsapp.TwilioAdapter(settings, runtime))
        runtime.start()
        who = "whatsapp:+85290001234"
        runtime.enqueue_text("whatsapp", who, "A nurse will call you today.", "staff:k3")
        assert wait_until(lambda: outbox()[0].status == "sent")
        row = outbox()[0]
        assert row.attempts == 2  # the timed-out send, then the reconciled one
        time.sleep(2.5)  # past the fake's late answer
        sent = _get(f"{fake.url}/_sandbox/messages?{urlencode({'to': who})}")
        sent = sent if isinstance(sent, list) else sent.get("messages", [])
        assert [m["body"] for m in sent] == ["A nurse will call you today."]
        assert row.provider_ref == sent[0]["sid"]

"""A new customer on each channel, as the providers would deliver them, and the cases they got.

* REST: JSON to ``/webhooks/rest/webhook``; the reply is the HTTP answer.
* WhatsApp: Twilio's form post signed with the sandbox credentials; the replies are what the
  fake Twilio recorded for the customer's address since the message went in.
* WeChat: the encrypted push (safe mode, as the sandbox runs); the reply is the passive one, or,
  when the product took longer than WeChat waits, the customer-service messages the fake WeChat
  recorded.

Each customer has an identity of its own whose last four characters (all a staff tool sees of
it) are unique in the run, so its cases can be found through the staff API.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol

from channels.sandbox import defaults, signing

REST_PATH = "/webhooks/rest/webhook"
WHATSAPP_PATH = "/webhooks/whatsapp/webhook"
WECHAT_PATH = "/webhooks/wechat/webhook"
FIRST_REPLY_TIMEOUT_S = 120.0  # a busy 2-core machine can take long over one turn
QUIET_S = 2.0  # bubbles of one turn leave the outbox together; this long without one ends it


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None,
         timeout: float = 120.0) -> tuple[int, bytes]:
    """(status, body) of one request; HTTP errors are returned, not raised."""
    request = urllib.request.Request(url, body, headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class Driver(Protocol):
    """One customer on one channel."""

    channel: str

    def send(self, text: str) -> list[str]:
        """Send ``text``; the bubbles the customer got for it."""

    @property
    def tail(self) -> str:
        """The last four characters of the conversation id (what the staff API shows)."""


_counter = itertools.count(1)
_lock = threading.Lock()


def _serial() -> int:
    with _lock:
        return next(_counter) % 10_000


@dataclass
class RestCustomer:
    """A website visitor (the product admits loopback callers without a visitor token)."""

    base_url: str
    channel: str = "rest"
    sender: str = field(default_factory=lambda: f"eval-{secrets.token_hex(4)}-{_serial():04d}")

    @property
    def tail(self) -> str:
        return self.sender[-4:]

    def send(self, text: str) -> list[str]:
        body = json.dumps({"sender": self.sender, "message": text}).encode()
        status, raw = http("POST", f"{self.base_url}{REST_PATH}", body,
                           {"Content-Type": "application/json"})
        if status != 200:
            raise DriverError(f"REST answered {status}")
        return [m["text"] for m in json.loads(raw) if m.get("text")]


class DriverError(RuntimeError):
    """The product refused or lost a customer's message."""


def _records(fake_url: str, **query: str) -> list[dict]:
    status, body = http("GET", f"{fake_url}/_sandbox/messages?{urllib.parse.urlencode(query)}")
    if status != 200:
        raise DriverError(f"fake provider answered {status}")
    data = json.loads(body)
    return data if isinstance(data, list) else data.get("messages", [])


def settle(fetch, before: int, first_timeout: float = FIRST_REPLY_TIMEOUT_S,  # noqa: ANN001
           quiet: float = QUIET_S) -> list:
    """The items ``fetch()`` returns beyond the first ``before``, once at least one came and
    none more for ``quiet`` seconds (empty when none came within ``first_timeout``)."""
    deadline = time.monotonic() + first_timeout
    items = fetch()
    while len(items) <= before and time.monotonic() < deadline:
        time.sleep(0.2)
        items = fetch()
    if len(items) <= before:
        return []
    changed = time.monotonic()
    while time.monotonic() - changed < quiet:
        time.sleep(0.2)
        now = fetch()
        if len(now) != len(items):
            items, changed = now, time.monotonic()
    return items[before:]


@dataclass
class WhatsAppCustomer:
    """A WhatsApp customer of the sandbox's Twilio."""

    base_url: str
    fake_url: str
    channel: str = "whatsapp"
    number: str = field(
        default_factory=lambda: f"+8529{secrets.randbelow(1000):03d}{_serial():04d}")

    @property
    def tail(self) -> str:
        return self.number[-4:]

    @property
    def address(self) -> str:
        return f"whatsapp:{self.number}"

    def _bodies(self) -> list[str]:
        return [m.get("body") or "" for m in _records(self.fake_url, to=self.address)]

    def send(self, text: str) -> list[str]:
        before = len(self._bodies())
        url = f"{self.base_url}{WHATSAPP_PATH}"
        form = signing.twilio_inbound_form(self.address, defaults.TWILIO_WHATSAPP_FROM, text)
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Twilio-Signature": signing.twilio_signature(
                       defaults.TWILIO_AUTH_TOKEN, url, form)}
        status, _ = http("POST", url, urllib.parse.urlencode(form).encode(), headers)
        if status != 200:
            raise DriverError(f"WhatsApp webhook answered {status}")
        return [b for b in settle(self._bodies, before) if b]


@dataclass
class WeChatCustomer:
    """A WeChat follower pushing encrypted messages (safe mode)."""

    base_url: str
    fake_url: str
    channel: str = "wechat"
    openid: str = field(
        default_factory=lambda: f"oEval{secrets.token_hex(8)}{_serial():04d}")

    @property
    def tail(self) -> str:
        return self.openid[-4:]

    def _custom(self) -> list[str]:
        return [m.get("text", {}).get("content", m.get("content", "")) or ""
                for m in _records(self.fake_url, touser=self.openid)]

    def send(self, text: str) -> list[str]:
        before = len(self._custom())
        xml = signing.wechat_text_xml(defaults.WECHAT_ORIGINAL_ID, self.openid, text,
                                      signing.wechat_msg_id())
        query, body = signing.wechat_push(
            xml, safe_mode=True, token=defaults.WECHAT_TOKEN,
            encoding_aes_key=defaults.WECHAT_ENCODING_AES_KEY, app_id=defaults.WECHAT_APP_ID,
            openid=self.openid)
        url = f"{self.base_url}{WECHAT_PATH}?{urllib.parse.urlencode(query)}"
        status, raw = http("POST", url, body.encode(), {"Content-Type": "application/xml"})
        if status != 200:
            raise DriverError(f"WeChat webhook answered {status}")
        passive = _passive_text(raw.decode())
        if passive:
            return [passive]
        return [b for b in settle(self._custom, before) if b]


def _passive_text(reply: str) -> str | None:
    """The text of a passive reply (decrypted), or None for ``success``."""
    if not reply.startswith("<xml"):
        return None
    plain = signing.wechat_decrypt_reply(defaults.WECHAT_TOKEN, defaults.WECHAT_ENCODING_AES_KEY,
                                         defaults.WECHAT_APP_ID, reply)
    node = ET.fromstring(plain).find("Content")
    return node.text if node is not None else None


@dataclass(frozen=True)
class Product:
    """Where the running product and its sandbox fakes answer."""

    base_url: str
    fake_twilio: str
    fake_wechat: str
    staff_token: str

    def customer(self, channel: str) -> Driver:
        """A new customer on ``channel``."""
        if channel == "rest":
            return RestCustomer(self.base_url)
        if channel == "whatsapp":
            return WhatsAppCustomer(self.base_url, self.fake_twilio)
        if channel == "wechat":
            return WeChatCustomer(self.base_url, self.fake_wechat)
        raise ValueError(f"unknown channel {channel}")

    def cases_of(self, customer: Driver, since: datetime) -> list[dict]:
        """Open cases of ``customer``'s conversation made since ``since`` (the staff API with the
        operator's read-only token; it masks all but the last four characters)."""
        status, raw = http("GET", f"{self.base_url}/api/cases",
                           headers={"Authorization": f"Bearer {self.staff_token}"})
        if status != 200:
            raise DriverError(f"staff API answered {status}")
        return [
            c for c in json.loads(raw)
            if c.get("conversation", "").endswith(customer.tail)
            and c.get("channel", customer.channel) == customer.channel
            and _after(c.get("created_at"), since)
        ]


def _after(stamp: str | None, since: datetime) -> bool:
    if not stamp:
        return True
    when = datetime.fromisoformat(stamp)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when >= since

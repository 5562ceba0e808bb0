"""Play WhatsApp and WeChat customers against the running server, signed as the providers sign,
and read what the fake providers received."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field

from channels.sandbox import defaults, signing

WHATSAPP_PATH = "/webhooks/whatsapp/webhook"
WECHAT_PATH = "/webhooks/wechat/webhook"


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None
         ) -> tuple[int, bytes]:
    """(status, body) of one request; HTTP errors are returned, not raised."""
    request = urllib.request.Request(url, body, headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def recorded(fake_url: str, **query: str) -> list[dict]:
    """Messages the fake provider accepted."""
    status, body = http("GET", f"{fake_url}/_sandbox/messages?{urllib.parse.urlencode(query)}")
    assert status == 200
    data = json.loads(body)
    return data if isinstance(data, list) else data.get("messages", [])


def wait_for(fetch, count: int, timeout: float = 20.0) -> list:  # noqa: ANN001
    """Poll ``fetch()`` until it returns at least ``count`` items (or time runs out)."""
    deadline = time.monotonic() + timeout
    items = fetch()
    while len(items) < count and time.monotonic() < deadline:
        time.sleep(0.1)
        items = fetch()
    return items


@dataclass
class WhatsAppUser:
    """A WhatsApp customer: signed Twilio webhooks in, the fake Twilio's records out."""

    base_url: str
    fake_url: str
    number: str = field(default_factory=lambda: f"+8529{uuid.uuid4().int % 10**7:07d}")

    @property
    def address(self) -> str:
        return f"whatsapp:{self.number}"

    def post(self, form: dict[str, str], signature: str | None = "auto") -> int:
        url = f"{self.base_url}{WHATSAPP_PATH}"
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature == "auto":
            signature = signing.twilio_signature(defaults.TWILIO_AUTH_TOKEN, url, form)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        status, _ = http("POST", url, urllib.parse.urlencode(form).encode(), headers)
        return status

    def send(self, text: str, sid: str | None = None, signature: str | None = "auto") -> int:
        form = signing.twilio_inbound_form(self.address, defaults.TWILIO_WHATSAPP_FROM, text,
                                           message_sid=sid)
        return self.post(form, signature)

    def received(self) -> list[str]:
        return [m["body"] for m in recorded(self.fake_url, to=self.address)]

    def wait(self, count: int, timeout: float = 20.0) -> list[str]:
        return wait_for(self.received, count, timeout)

    def settle(self, quiet: float = 1.5, timeout: float = 20.0) -> list[str]:
        """Everything received once nothing new has arrived for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        seen = self.received()
        last_change = time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - last_change < quiet:
            time.sleep(0.1)
            now = self.received()
            if len(now) != len(seen):
                seen, last_change = now, time.monotonic()
        return seen


@dataclass
class WeChatUser:
    """A WeChat follower: signed XML in (encrypted by default: the sandbox product is in safe
    mode and, like one with a real AES key, refuses plain pushes); passive replies and custom
    messages out."""

    base_url: str
    fake_url: str
    safe_mode: bool = True
    openid: str = field(default_factory=lambda: f"oTest{uuid.uuid4().hex[:20]}")

    def request(self, xml: str, *, signature: str | None = None, timestamp: int | None = None,
                nonce: str | None = None, tamper: bool = False) -> tuple[str, bytes]:
        """(url, body) of one push of ``xml``, as WeChat would make it; ``signature`` replaces
        the plain signature, ``tamper`` spoils ``msg_signature``."""
        query, body = signing.wechat_push(
            xml, safe_mode=self.safe_mode, token=defaults.WECHAT_TOKEN,
            encoding_aes_key=defaults.WECHAT_ENCODING_AES_KEY, app_id=defaults.WECHAT_APP_ID,
            timestamp=timestamp, nonce=nonce, openid=self.openid)
        if signature is not None:
            query["signature"] = signature
        if tamper and self.safe_mode:
            query["msg_signature"] = "0" * 40
        return f"{self.base_url}{WECHAT_PATH}?{urllib.parse.urlencode(query)}", body.encode()

    def post_xml(self, xml: str, **kwargs) -> tuple[int, str]:  # noqa: ANN003
        """Push ``xml`` (see ``request``): (status, reply), a passive reply decrypted."""
        url, body = self.request(xml, **kwargs)
        status, raw = http("POST", url, body, {"Content-Type": "application/xml"})
        return status, self.reply_text(status, raw)

    def reply_text(self, status: int, raw: bytes) -> str:
        """The webhook's answer as text, a safe-mode passive reply decrypted."""
        reply = raw.decode()
        if self.safe_mode and status == 200 and reply.startswith("<xml"):
            reply = signing.wechat_decrypt_reply(defaults.WECHAT_TOKEN,
                                                 defaults.WECHAT_ENCODING_AES_KEY,
                                                 defaults.WECHAT_APP_ID, reply)
        return reply

    def send(self, text: str, msg_id: int | None = None, **kwargs) -> tuple[int, str]:  # noqa: ANN003
        xml = signing.wechat_text_xml(defaults.WECHAT_ORIGINAL_ID, self.openid, text,
                                      msg_id or signing.wechat_msg_id())
        return self.post_xml(xml, **kwargs)

    def custom_messages(self) -> list[str]:
        """Each message as the follower reads it (a menu message: its text, its numbered
        options and the hint, as the numbered text reads)."""
        return [menu_text(m["msgmenu"]) if m.get("msgtype") == "msgmenu"
                else m.get("text", {}).get("content", m.get("content", ""))
                for m in recorded(self.fake_url, touser=self.openid)]

    def menus(self) -> list[dict]:
        """The menu messages (``msgmenu``) the follower got."""
        return [m["msgmenu"] for m in recorded(self.fake_url, touser=self.openid)
                if m.get("msgtype") == "msgmenu"]


def menu_text(menu: dict) -> str:
    """A WeChat menu message as text: what it shows, line by line."""
    lines = [menu.get("head_content") or "", "", *[o["content"] for o in menu["list"]],
             menu.get("tail_content") or ""]
    return "\n".join(lines).strip()


def passive_text(reply_xml: str) -> str | None:
    """The text of a passive reply, or None for ``success``."""
    if not reply_xml.startswith("<xml"):
        return None
    import xmltodict

    return xmltodict.parse(reply_xml)["xml"].get("Content")

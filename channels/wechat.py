"""The WeChat official account: ``GET|POST /webhooks/wechat/webhook`` with wechatpy.

- GET echoes ``echostr`` after the signature check (the admin console's URL verification).
- POST is authenticated before anything is parsed (``channels/wechat_auth.py``; signatures
  compared in constant time): ``signature`` and a timestamp within 5 minutes always; in safe mode
  (``WECHAT_ENCODING_AES_KEY``) only encrypted messages, with ``msg_signature`` over the
  ciphertext: a plain POST is refused (403), as its signature covers no body.
- Each accepted (timestamp, nonce) is claimed in a replay cache shared by every instance
  (``channels/core/replay.py``) until its timestamp goes stale. The same pair again with the same
  message is a retry or a replay of it: answered ``success`` and not processed; with another
  message it is a reused signature: 403. So a captured request can never be processed twice, nor
  carry another body, while a retry of WeChat's never sees an error.
  XML goes through xmltodict, which refuses entities (XML bombs, XXE); broken XML is a 400.
- WeChat retries a message it got no answer to within 5 seconds: retries are deduplicated
  (``MsgId``; ``FromUserName`` + ``CreateTime`` for events). The webhook waits up to
  ``WECHAT_REPLY_WAIT_SECONDS`` (4.5) for the reply and answers passively when it is ready;
  otherwise it answers ``success`` and the reply follows through the customer-service API.
- That API needs an access_token: fetched once, cached in shared storage for every instance, and
  refreshed by wechatpy on 40001/42001. Outside the 48-hour window, or over the per-message quota
  (45015/45047), a message is held until the customer writes again, and the console is told.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from xml.parsers.expat import ExpatError

import requests
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, text
from sanic.response import json as json_response
from wechatpy import parse_message
from wechatpy.client import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.replies import TextReply

from bot.intake import clickable
from bot.outbound import Delivery
from channels.core.kv import shared_storage
from channels.core.models import Contact, OutboundMessage
from channels.core.replay import (
    ReplayCache,
    Verdict,
    fingerprint,
    replay_cache_from_env,
    replay_key,
)
from channels.core.runtime import ChannelRuntime, SendResult
from channels.core.text import offered, utf8_bytes
from channels.provider import ProviderChannel
from channels.settings import WeChatSettings, load_wechat
from channels.wechat_auth import REPLAY_WINDOW_S, Refused, Verified, WeChatVerifier

logger = logging.getLogger(__name__)
WINDOW = timedelta(hours=48)
TEXT_LIMIT = 2048  # bytes, for passive replies and customer-service text messages
HOLD_ERRCODES = {45015, 45047}  # outside the 48-hour window / over the per-message quota
TOKEN_ERRCODES = {40001, 40014, 42001}  # invalid or expired access_token: refresh once
API_TIMEOUT_S = 10
MENU_MAX = 10  # msgmenu: at most 10 options, each up to 128 bytes, head and tail 1024 bytes
MENU_ITEM_BYTES = 128
MENU_TEXT_BYTES = 1024


class ConfiguredClient(WeChatClient):
    """wechatpy's client with a configurable API host (the token URL is hard-coded upstream)."""

    def __init__(self, settings: WeChatSettings, storage: Any) -> None:
        super().__init__(
            settings.app_id, settings.app_secret, session=storage, timeout=API_TIMEOUT_S
        )
        base = (settings.api_url or "https://api.weixin.qq.com").rstrip("/")
        self.API_BASE_URL = f"{base}/cgi-bin/"

    def fetch_access_token(self) -> dict:
        return self._fetch_access_token(
            url=f"{self.API_BASE_URL}token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


def parse(body: bytes | str) -> Any:
    """wechatpy's message object; ``ValueError`` for anything that is not a WeChat message."""
    try:
        message = parse_message(body)
    except (ExpatError, TypeError, KeyError, ValueError, AttributeError) as exc:
        raise ValueError(f"malformed WeChat XML ({type(exc).__name__})") from exc
    if not getattr(message, "source", None):
        raise ValueError("WeChat XML without FromUserName")
    return message


def describe(message: Any) -> dict[str, Any]:
    """What the runtime needs: dedup id, kind, text and references."""
    kind = message.type
    create_time = (
        int(getattr(message, "create_time", 0) or 0)
        if not isinstance(getattr(message, "create_time", 0), datetime)
        else int(message.create_time.timestamp())
    )
    provider_id = str(getattr(message, "id", "") or "")
    if kind == "event" or not provider_id:
        event = getattr(message, "event", kind)
        provider_id = f"{message.source}:{create_time}:{event}"
    if kind == "text":
        # A tap on a msgmenu option: the option's text, and its id in ``bizmsgmenuid``.
        choice = str(getattr(message, "_data", {}).get("bizmsgmenuid") or "").strip()
        return {"id": provider_id, "kind": "text", "text": message.content or "",
                "payload": {"choice": choice[:64]} if choice else {}}
    if kind == "voice":
        recognition = (getattr(message, "recognition", "") or "").strip()
        if recognition:
            return {
                "id": provider_id,
                "kind": "text",
                "text": recognition,
                "payload": {"voice": message.media_id},
            }
        return {
            "id": provider_id,
            "kind": "media",
            "text": "",
            "payload": {"media": [{"type": "voice", "media_id": message.media_id}]},
        }
    if kind == "image":
        return {
            "id": provider_id,
            "kind": "media",
            "text": "",
            "payload": {
                "media": [{"type": "image", "url": message.image, "media_id": message.media_id}]
            },
        }
    if kind == "location":
        return {
            "id": provider_id,
            "kind": "location",
            "text": "",
            "payload": {
                "location": [message.location_x, message.location_y],
                "label": message.label,
            },
        }
    if kind == "event":
        payload = {"event": getattr(message, "event", "")}
        if getattr(message, "key", None):  # a menu click's EventKey
            payload["key"] = str(message.key)[:128]
        return {"id": provider_id, "kind": "event", "text": "", "payload": payload}
    return {"id": provider_id, "kind": "unsupported", "text": "", "payload": {"type": kind}}


def msgmenu(fallback: str) -> dict[str, Any] | None:
    """A customer-service menu message for a numbered offer (None: send the text). It reads as
    the numbered text does (the text, the numbered options, the reply hint), each option line
    now a tap; ids are the options' numbers. Typing the number keeps working."""
    offer = offered(fallback)
    if offer is None or len(offer.titles) > MENU_MAX:
        return None
    lines = [f"{n}. {title}" for n, title in enumerate(offer.titles, 1)]
    if any(utf8_bytes(line) > MENU_ITEM_BYTES for line in lines):
        return None
    if utf8_bytes(offer.body) > MENU_TEXT_BYTES:
        return None
    return {"head_content": offer.body,
            "list": [{"id": str(n), "content": line} for n, line in enumerate(lines, 1)],
            "tail_content": offer.hint}


def _refuses_menu(errcode: int | None) -> bool:
    """A refusal of the menu itself (not of every message): sent as numbered text instead."""
    retryable = errcode in (-1, 45009) or (errcode or 0) < 0
    return not retryable and errcode not in TOKEN_ERRCODES


class WeChatAdapter:
    """Sends outbox rows through the customer-service message API."""

    name = "wechat"
    limit = TEXT_LIMIT
    offers_choices = True  # offers sent through the API go out as a msgmenu

    def __init__(self, settings: WeChatSettings, runtime: ChannelRuntime) -> None:
        self.settings = settings
        self.runtime = runtime
        self.client = ConfiguredClient(settings, shared_storage(f"wechat:{settings.app_id}"))

    def measure(self, value: str) -> int:
        return utf8_bytes(value)

    def window_open(self, contact: Contact | None, now: datetime) -> bool:
        return bool(contact and contact.last_inbound_at and now - contact.last_inbound_at < WINDOW)

    async def send(self, row: OutboundMessage) -> SendResult:
        loop = asyncio.get_running_loop()
        menu = msgmenu(row.text) if row.kind == "choices" else None
        try:  # wechatpy is synchronous: never block the event loop with it
            if menu is not None:
                try:
                    await loop.run_in_executor(None, self._send_with_one_refresh, row.recipient,
                                               row.text, menu)
                    return SendResult("sent")
                except WeChatClientException as exc:
                    if exc.errcode in HOLD_ERRCODES or not _refuses_menu(exc.errcode):
                        raise
                    logger.warning("offer sent as numbered text: wechat %s", exc.errcode)
            await loop.run_in_executor(None, self._send_with_one_refresh, row.recipient, row.text)
        except WeChatClientException as exc:
            if exc.errcode in HOLD_ERRCODES:
                return SendResult("held", error=f"wechat {exc.errcode}")
            retryable = exc.errcode in (-1, 45009) or (exc.errcode or 0) < 0
            return SendResult("retry" if retryable else "failed", error=f"wechat {exc.errcode}")
        except (requests.RequestException, OSError) as exc:
            return SendResult("retry", error=f"network: {type(exc).__name__}")
        return SendResult("sent")

    def _send_with_one_refresh(self, recipient: str, content: str,
                               menu: dict[str, Any] | None = None) -> None:
        """Send (the text, or the menu when given); on an invalid or expired token
        (40001/40014/42001) refresh once and resend."""
        def send() -> None:
            if menu is not None:
                self.client.message.send_msg_menu(recipient, menu)
            else:
                self.client.message.send_text(recipient, content)

        try:
            send()
        except WeChatClientException as exc:
            if exc.errcode not in TOKEN_ERRCODES:
                raise
            self.client.fetch_access_token()
            send()

    async def reconcile(self, row: OutboundMessage) -> str | None:
        """WeChat offers no way to ask; a row caught mid-send is sent again."""
        return None

    async def deliver(self, recipient: str, text_: str) -> Delivery:
        """A nurse's reply: held until the customer writes again when the window is closed."""
        contact = self.runtime.contact(self.name, recipient)
        is_open = self.window_open(contact, datetime.utcnow())
        self.runtime.enqueue_text(
            self.name, recipient, text_, f"staff:{uuid.uuid4().hex}", held=not is_open
        )
        if is_open:
            return Delivery("queued", "sent through WeChat")
        return Delivery(
            "held",
            "the 48-hour WeChat window is closed: the reply is held and "
            "goes out when the customer next writes",
        )


class WeChatInput(ProviderChannel):
    """Rasa input channel ``wechat`` (registered in credentials.yml)."""

    def __init__(self, settings: WeChatSettings | None = None,
                 replays: ReplayCache | None = None) -> None:
        self.settings = settings if settings is not None else load_wechat()
        self.runtime: ChannelRuntime | None = None
        self.adapter: WeChatAdapter | None = None
        self.verifier = (WeChatVerifier(self.settings.token, self.settings.encoding_aes_key,
                                        self.settings.app_id) if self.settings else None)
        self.replays = replays

    @classmethod
    def name(cls) -> str:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> ProviderChannel:
        """Secrets come from the environment (channels/settings.py), not credentials.yml."""
        return cls()

    def attach(self, runtime: ChannelRuntime) -> WeChatAdapter | None:
        """Connect to the shared runtime; returns the adapter (None when not configured)."""
        self.runtime = runtime
        if self.settings is None:
            return None
        self.adapter = WeChatAdapter(self.settings, runtime)
        if self.replays is None:
            self.replays = replay_cache_from_env()
        runtime.register(self.adapter)
        return self.adapter

    def _first_time(self, verified: Verified) -> Verdict | None:
        """Claim the request's (timestamp, nonce); ``None`` when the cache cannot be reached
        (refused then: without it a replay could not be told apart)."""
        assert self.settings is not None and self.replays is not None
        key = replay_key(f"wechat:{self.settings.app_id}", verified.timestamp, verified.nonce)
        try:
            return self.replays.claim(key, fingerprint(verified.xml),
                                      int(verified.timestamp) + REPLAY_WINDOW_S + 1)
        except Exception as exc:  # noqa: BLE001 - database or Redis unreachable
            logger.error("WeChat replay cache unavailable (%s): request refused",
                         type(exc).__name__)
            return None

    def blueprint(self, on_new_message: Callable[[Any], Awaitable[Any]]) -> Blueprint:
        """``GET /`` health, ``GET /webhook`` verification, ``POST /webhook`` messages."""
        bp = Blueprint("wechat_webhook", __name__)

        @bp.get("/")
        async def health(request: Request) -> HTTPResponse:
            return json_response({"status": "ok" if self.settings else "not configured"})

        @bp.get("/webhook")
        async def verify(request: Request) -> HTTPResponse:
            if self.verifier is None:
                return text("WeChat channel not configured", status=503)
            if not self.verifier.url_check(request.args):
                return text("invalid signature", status=403)
            return text(request.args.get("echostr", ""))

        @bp.post("/webhook")
        async def receive(request: Request) -> HTTPResponse:
            if self.verifier is None or self.runtime is None:
                return text("WeChat channel not configured", status=503)
            try:
                verified = self.verifier.verify(request.args, request.body or b"")
            except Refused as refusal:
                return text(refusal.reason, status=refusal.status)
            verdict = self._first_time(verified)
            if verdict is None:
                return text("temporarily unavailable", status=503)
            if verdict is Verdict.CONFLICT:
                return text("timestamp and nonce already used (replay refused)", status=403)
            if verdict is Verdict.REPEAT:
                return text("success")  # the same push again: answered once already
            try:
                message = parse(verified.xml)
            except ValueError as exc:
                return text(str(exc), status=400)
            return await self._handle(message, verified, id(request))

        return bp

    async def _handle(self, message: Any, verified: Verified, request_key: int) -> HTTPResponse:
        runtime = self.runtime
        assert runtime is not None and self.settings is not None
        info = describe(message)
        event = info["payload"].get("event")
        if event == "unsubscribe":
            runtime.set_subscribed(self.name(), message.source, False)
            return text("success")
        menu_click = event == "click" and clickable(info["payload"].get("key"))
        if event == "subscribe":
            runtime.set_subscribed(self.name(), message.source, True)
        elif menu_click:  # "Health Office": the greeting and its choices, as a msgmenu
            runtime.accept(self.name(), info["id"], message.source, info["kind"], "",
                           info["payload"])
            return text("success")
        elif info["kind"] in ("event", "unsupported"):
            return text("success")  # other clicks, views and the like need no answer
        inbound_id, is_new = runtime.accept(
            self.name(), info["id"], message.source, info["kind"], info["text"],
            info["payload"], want_reply=True,
        )
        waiter = runtime.reply_future(inbound_id) if is_new else None
        if waiter is None:
            return text("success")  # WeChat's retry: the first delivery is being answered
        # Stored: from here the webhook only waits for the answer, which must not wait for it
        # (channels/core/web_first.py; the gateway marked it open under this key).
        runtime.web_first.closed(request_key)
        try:
            reply = await asyncio.wait_for(asyncio.wrap_future(waiter),
                                           self.settings.reply_wait_seconds)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            runtime.give_up_waiting(inbound_id)
            return text("success")
        if not reply:
            return text("success")
        xml = TextReply(content=reply, message=message).render()
        if verified.encrypted:  # safe mode: the passive reply is encrypted too
            assert self.verifier is not None
            xml = self.verifier.encrypt_reply(xml, verified.nonce, verified.timestamp)
        return text(xml, content_type="application/xml")

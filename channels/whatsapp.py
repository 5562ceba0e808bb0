"""WhatsApp through Twilio: ``POST /webhooks/whatsapp/webhook`` in, Twilio's REST API out.

Unlike Rasa's stock Twilio connector: the ``X-Twilio-Signature`` is checked first (403 otherwise),
a body that is not a form is refused (415) and a form that is not a WhatsApp message too (400),
retries are deduplicated by ``MessageSid``, the message is stored durably and the webhook answers
an empty TwiML at once while the conversation runs in the background (``channels.core.runtime``),
replies go out through the async REST client with retries, text starting with ``/`` stays text,
media are acknowledged and kept on the case, and after the 24-hour customer-service window a
nurse's reply goes out as the approved template (``TWILIO_TEMPLATE_CONTENT_SID``). Offers go out
as quick replies or a list (``channels/twilio_content.py``), the numbered text when that fails;
a tap (``ButtonPayload``, ``ButtonText``) chooses the option it shows.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from multidict import MultiDict
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, text
from sanic.response import json as json_response
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

from bot.outbound import Delivery
from bot.web import client
from channels.core.models import Contact, OutboundMessage
from channels.core.runtime import ChannelRuntime, SendResult
from channels.core.text import chars, offered
from channels.provider import ProviderChannel
from channels.settings import TwilioSettings, load_twilio
from channels.twilio_content import (
    ContentCache,
    ContentRefused,
    content_key,
    content_types,
    create_content,
)

logger = logging.getLogger(__name__)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
WINDOW = timedelta(hours=24)
BODY_LIMIT = 1600  # Twilio's maximum body length for one WhatsApp message
FORM_TYPE = "application/x-www-form-urlencoded"  # what Twilio posts to both webhooks
SEND_TIMEOUT_S = 10


def public_url(request: Request, settings: TwilioSettings) -> str:
    """The URL Twilio called, as it signed it: the configured public base plus the path.

    Forwarded headers are honoured only when ``TRUST_FORWARDED_HEADERS`` is set (behind a proxy
    you control); otherwise anyone could choose the URL the signature is checked against.
    """
    base = settings.public_base_url
    if settings.trust_forwarded:
        proto = client.scheme(request, trust_forwarded=True)  # the request's own when absent
        host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
        base = f"{proto}://{host.split(',')[0].strip()}"
    query = f"?{request.query_string}" if request.query_string else ""
    return f"{base}{request.path}{query}"


def _form(request: Request) -> MultiDict:
    """The form as Twilio signed it: blank fields kept (Body is empty for a photo).

    Sanic's ``request.form`` drops blank values, which breaks the signature of media messages.
    A ``MultiDict`` (aiohttp's) because twilio's validator asks for ``getall`` first: for a
    form without it, every field cost it a caught exception (a third of the check's time).
    """
    try:
        body = (request.body or b"").decode("utf-8")
    except UnicodeDecodeError:
        return MultiDict()
    return MultiDict(parse_qsl(body, keep_blank_values=True))


def is_form(request: Request) -> bool:
    """Posted as a form (charset and other parameters aside), as Twilio posts.

    Anything else is refused with 415 rather than read as a form: the body would otherwise be
    parsed by guesswork (a JSON or text body whose signature happens to check out).
    """
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media_type == FORM_TYPE


def parse_inbound(form: Any) -> dict[str, Any]:
    """The fields we use from Twilio's form; ``ValueError`` when it is not a WhatsApp message."""
    sid = (form.get("MessageSid") or form.get("SmsMessageSid") or "").strip()
    sender = (form.get("From") or "").strip()
    if not sid or not sender.startswith("whatsapp:"):
        raise ValueError("not a WhatsApp message (MessageSid and From=whatsapp:… required)")
    try:
        media_count = min(int(form.get("NumMedia") or 0), 10)
    except ValueError:
        media_count = 0
    media = [
        {"url": form.get(f"MediaUrl{i}"), "type": form.get(f"MediaContentType{i}")}
        for i in range(media_count)
        if form.get(f"MediaUrl{i}")
    ]
    latitude, longitude = form.get("Latitude"), form.get("Longitude")
    kind = "media" if media else "location" if latitude and longitude else "text"
    payload: dict[str, Any] = {
        "media": media,
        "location": [latitude, longitude] if kind == "location" else None,
    }
    text_ = form.get("Body") or ""
    # A tapped quick reply (ButtonPayload, ButtonText) or list item (ListId, ListTitle): the
    # option's id, and the title it showed.
    choice = (form.get("ButtonPayload") or form.get("ListId") or "").strip()
    if kind == "text" and choice:
        payload["choice"] = choice[:200]
        text_ = form.get("ButtonText") or form.get("ListTitle") or text_
    return {"sid": sid, "sender": sender, "text": text_, "kind": kind, "payload": payload}


@lru_cache(maxsize=512)
def _prepared(text_: str) -> tuple[str, str, dict[str, Any]] | None:
    """(content key, script, content types) of a numbered offer, worked out once per text (the
    same offers recur); None when it cannot go as buttons."""
    offer = offered(text_)
    types = content_types(offer, text_) if offer else None
    if offer is None or types is None:
        return None
    return content_key(types), offer.script, types


def _timed_http_client(timeout: float) -> Any:
    """twilio's async HTTP client with its ``timeout`` in force. twilio 8.2 keeps the value but
    hands aiohttp each request's own, which is None: aiohttp then waits without any limit, so a
    Twilio that accepted a message and never answered held that customer's replies for good
    (tests/test_send_after_timeout.py). With the limit, the send ends as a network error and the
    next attempt first asks Twilio whether the message arrived."""
    from twilio.http.async_http_client import AsyncTwilioHttpClient

    class TimedHttpClient(AsyncTwilioHttpClient):
        async def request(self, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
            return await super().request(*args, timeout=timeout or self.timeout, **kwargs)

    return TimedHttpClient(timeout=timeout)


def _failure(exc: TwilioRestException) -> SendResult:
    """A refused send: retried on 429 and 5xx, failed otherwise."""
    retryable = exc.status == 429 or exc.status >= 500
    return SendResult("retry" if retryable else "failed",
                      error=f"twilio {exc.status} {exc.code or ''}".strip())


class TwilioAdapter:
    """Sends outbox rows through Twilio's REST API (official client, async)."""

    name = "whatsapp"
    limit = BODY_LIMIT
    offers_choices = True  # offers go out as quick replies or a list (channels/twilio_content.py)

    def __init__(self, settings: TwilioSettings, runtime: ChannelRuntime) -> None:
        self.settings = settings
        self.runtime = runtime
        self._client: Any = None
        self.contents = ContentCache(settings.account_sid)

    def measure(self, value: str) -> int:
        return chars(value)

    def client(self) -> Any:
        """One client with one async HTTP session for the process (pooled sessions would leak)."""
        if self._client is None:
            from twilio.rest import Client

            http = _timed_http_client(SEND_TIMEOUT_S)
            self._client = Client(
                self.settings.account_sid, self.settings.auth_token, http_client=http
            )
            if self.settings.api_url:  # tests and the sandbox: the fake Twilio on loopback
                self._client.api.base_url = self.settings.api_url
                self._client.edge = self._client.region = None  # they would rewrite the host
        return self._client

    def window_open(self, contact: Contact | None, now: datetime) -> bool:
        return bool(contact and contact.last_inbound_at and now - contact.last_inbound_at < WINDOW)

    async def send(self, row: OutboundMessage) -> SendResult:
        kwargs: dict[str, Any] = {
            "from_": self.settings.whatsapp_from,
            "to": row.recipient,
            "status_callback": f"{self.settings.public_base_url}/webhooks/whatsapp/status",
        }
        if row.kind == "template":
            kwargs.update(
                content_sid=self.settings.template_content_sid,
                content_variables=json.dumps({"1": row.text}, ensure_ascii=False),
            )
        elif row.kind == "choices":
            tapped = await self._send_choices(row, kwargs)
            if tapped is not None:
                return tapped
            kwargs["body"] = row.text  # the numbered text: buttons refused or not possible
        else:
            kwargs["body"] = row.text
        return await self._create(kwargs)

    async def _create(self, kwargs: dict[str, Any]) -> SendResult:
        try:
            message = await self.client().messages.create_async(**kwargs)
        except TwilioRestException as exc:
            return _failure(exc)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            return SendResult("retry", error=f"network: {type(exc).__name__}")
        return SendResult("sent", provider_ref=message.sid)

    async def _send_choices(self, row: OutboundMessage, kwargs: dict[str, Any]
                            ) -> SendResult | None:
        """Send an offer as buttons; None when it must go as the numbered text instead (it
        cannot be shown as buttons, or Twilio refused the content or a message with it).
        Twilio's 429/5xx and network errors are retried as any send is."""
        prepared = _prepared(row.text)
        if prepared is None:
            return None
        key, script, types = prepared
        sid = self.contents.get(key)
        if sid is None:
            try:
                sid = await create_content(self.client(), self.settings.api_url, key,
                                           script, types)
            except ContentRefused as exc:
                logger.warning("offer sent as numbered text: %s", exc)
                return None
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                return SendResult("retry", error=f"content: {type(exc).__name__}")
            self.contents.put(key, sid)
        result = await self._create({**kwargs, "content_sid": sid})
        if result.status == "failed":  # the content was deleted or refused: text this time
            logger.warning("offer sent as numbered text: %s", result.error)
            self.contents.forget(key)
            return None
        return result

    async def reconcile(self, row: OutboundMessage) -> str | None:
        """Did Twilio accept this row before we crashed? Its message SID if so.

        Twilio has no idempotency key, so the row is matched by recipient and body among the
        messages Twilio holds that no other outbox row already owns: the same answer sent twice
        to one customer (a repeated question) is never mistaken for this one.
        """
        since = (row.created_at - timedelta(minutes=1)).date()
        sent = await self.client().messages.list_async(
            to=row.recipient, from_=self.settings.whatsapp_from, date_sent_after=since, limit=200
        )
        known = self.runtime.known_provider_refs(self.name, row.recipient)
        return next((m.sid for m in sent if (m.body or "") == row.text and m.sid not in known),
                    None)

    async def deliver(self, recipient: str, text_: str) -> Delivery:
        """A nurse's reply: free text inside the 24-hour window, the approved template after."""
        import uuid

        contact = self.runtime.contact(self.name, recipient)
        if self.window_open(contact, datetime.utcnow()):
            self.runtime.enqueue_text(self.name, recipient, text_, f"staff:{uuid.uuid4().hex}")
            return Delivery("queued", "sent through WhatsApp")
        if not self.settings.template_content_sid:
            return Delivery(
                "failed",
                "the 24-hour window is closed and no approved template "
                "(TWILIO_TEMPLATE_CONTENT_SID) is configured",
            )
        self.runtime.enqueue_text(
            self.name, recipient, text_, f"staff:{uuid.uuid4().hex}", kind="template"
        )
        return Delivery("template", "the 24-hour window is closed: sent as the approved template")


class WhatsAppInput(ProviderChannel):
    """Input channel ``whatsapp`` (registered in credentials.yml, as Rasa channels are)."""

    def __init__(self, settings: TwilioSettings | None = None) -> None:
        self.settings = settings if settings is not None else load_twilio()
        self.runtime: ChannelRuntime | None = None
        self.adapter: TwilioAdapter | None = None

    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> ProviderChannel:
        """Secrets come from the environment (channels/settings.py), not credentials.yml."""
        return cls()

    def attach(self, runtime: ChannelRuntime) -> TwilioAdapter | None:
        """Connect to the shared runtime; returns the adapter (None when not configured)."""
        self.runtime = runtime
        if self.settings is None:
            return None
        self.adapter = TwilioAdapter(self.settings, runtime)
        runtime.register(self.adapter)
        return self.adapter

    def blueprint(self, on_new_message: Callable[[Any], Awaitable[Any]]) -> Blueprint:
        """``GET /``, ``POST /webhook`` and ``POST /status`` under ``/webhooks/whatsapp``."""
        bp = Blueprint("whatsapp_webhook", __name__)

        @bp.get("/")
        async def health(request: Request) -> HTTPResponse:
            return json_response({"status": "ok" if self.settings else "not configured"})

        def signed_form(request: Request) -> tuple[MultiDict | None, HTTPResponse | None]:
            """The form of a request Twilio signed, or the refusal to answer with. Both routes
            check the same things in the same order; the form is parsed once."""
            if self.settings is None or self.runtime is None:
                return None, text("WhatsApp channel not configured", status=503)
            signature = request.headers.get("x-twilio-signature", "")
            # Twilio signs empty fields too (Body is empty for a photo): keep blank values.
            form = _form(request)
            validator = RequestValidator(self.settings.auth_token)
            if not signature or not validator.validate(public_url(request, self.settings), form,
                                                       signature):
                return None, text("invalid signature", status=403)
            if not is_form(request):
                return None, text(f"expected {FORM_TYPE}", status=415)
            return form, None

        @bp.post("/webhook")
        async def receive(request: Request) -> HTTPResponse:
            form, refusal = signed_form(request)
            if refusal is not None:
                return refusal
            try:
                message = parse_inbound(form)
            except ValueError as exc:
                return text(str(exc), status=400)
            self.runtime.accept(
                self.name(),
                message["sid"],
                message["sender"],
                message["kind"],
                message["text"],
                message["payload"],
            )
            return text(EMPTY_TWIML, content_type="text/xml")

        @bp.post("/status")
        async def status(request: Request) -> HTTPResponse:
            form, refusal = signed_form(request)
            if refusal is not None:
                return refusal
            sid, state = form.get("MessageSid"), form.get("MessageStatus")
            if not sid or not state:
                return text("MessageSid and MessageStatus required", status=400)
            self.runtime.record_delivery_status(sid, state)
            return text("", status=204)

        return bp

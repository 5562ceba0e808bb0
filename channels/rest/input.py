"""The core's REST input channel (``/webhooks/rest/webhook``), in place of Rasa's ``RestInput``.

Rasa's channel takes ``sender``, ``input_channel`` and ``metadata`` from the body, so a caller
could name any conversation, claim any channel and write the transcript's metadata. This one:

- reads the body with :func:`channels.rest.message.parse` (the gateway's own rules, re-checked);
- puts the message in the visitor's own conversation, ``rest:<sender>`` (never another
  channel's), with the input channel ``rest`` whatever the body says;
- treats a leading ``/`` as text (``/restart`` typed is text, as on WhatsApp and WeChat); a
  button is chosen, as there, by its number or title (or, for widgets that send it, by the
  payload of a button it was just offered), decided here from the conversation's last reply;
- writes the metadata itself: what was typed for a chosen option (the transcript shows "1 → I
  agree"), and ``client_key``, the pseudonym of the caller's address, only when the gateway
  sent it (proved by the internal token);
- with an internal token configured (the core ``make run`` starts), answers only the gateway.

Registered by :mod:`bot.core_server`; ``credentials.yml`` names it for ``rasa run``.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, json

from bot.core_client import TOKEN_HEADER
from channels.core.text import as_text, chosen_option
from channels.rest.limits import CLIENT_KEY, CLIENT_KEY_HEADER
from channels.rest.message import NAMESPACE, RestRequestError, parse

logger = logging.getLogger(__name__)


class RestInput(RasaRestInput):
    """Rasa input channel ``rest`` with the rules above."""

    def __init__(self, internal_token: str | None = None) -> None:
        self.internal_token = (internal_token if internal_token is not None
                               else os.environ.get("SMO_INTERNAL_TOKEN", ""))

    @classmethod
    def name(cls) -> str:
        return NAMESPACE

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> RestInput:
        return cls()

    def from_gateway(self, request: Request) -> bool:
        """Whether the request carries the gateway's secret."""
        given = request.headers.get(TOKEN_HEADER, "")
        return bool(self.internal_token) and hmac.compare_digest(
            given.encode(), self.internal_token.encode())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("smo_rest_webhook", __name__)

        @bp.get("/")
        async def health(_request: Request) -> HTTPResponse:
            return json({"status": "ok"})

        @bp.post("/webhook")
        async def receive(request: Request) -> HTTPResponse:
            trusted = self.from_gateway(request)
            if self.internal_token and not trusted:
                return json({"error": "this port answers the gateway only; use the public "
                                      "port's /webhooks/rest/webhook"}, status=403)
            try:
                message = parse(request.body or b"")
            except RestRequestError as exc:
                return json({"error": str(exc)}, status=400)
            agent = getattr(request.app.ctx, "agent", None)
            if agent is None:
                return json({"error": "model loading"}, status=503)
            metadata: dict[str, Any] = {}
            key = request.headers.get(CLIENT_KEY_HEADER, "")
            if trusted and CLIENT_KEY.fullmatch(key):
                metadata["client_key"] = key
            conversation = message.conversation_id
            # Read, never created here (the turn itself starts a new conversation's session).
            tracker = await agent.tracker_store.retrieve(conversation)
            chosen = choice(message.text, offered_options(tracker.events if tracker else []))
            if chosen:  # the transcript shows staff what was typed and what it chose
                metadata.update(typed=message.text, option=chosen[0])
            collector = CollectingOutputChannel()
            try:
                await on_new_message(UserMessage(
                    chosen[1] if chosen else as_text(message.text), collector, conversation,
                    input_channel=NAMESPACE, metadata=metadata))
            except Exception:  # as Rasa's channel: answer with what was said so far
                logger.exception("REST message not fully processed")
            # The visitor knows their own id, not the conversation's namespaced one.
            return json([{**m, "recipient_id": message.sender} for m in collector.messages])

        return bp


def offered_options(events: Any) -> list[list[str]]:
    """The buttons ``[title, payload]`` of the conversation's last reply (since the customer's
    last message), what a "1" or a title means now; none when that reply offered none."""
    for event in reversed(events):
        if event.type_name == "user":
            return []
        if event.type_name == "bot":
            buttons = (getattr(event, "data", None) or {}).get("buttons") or []
            options = [[str(b.get("title", "")).strip(), str(b.get("payload", "")).strip()]
                       for b in buttons if isinstance(b, dict) and b.get("payload")]
            if options:
                return options
    return []


def choice(text: str, options: list[list[str]]) -> list[str] | None:
    """The offered option ``text`` chooses: its number or title (as on WhatsApp and WeChat), or
    exactly the payload of a button just offered (what Rasa's web widgets send on a click).
    Any other ``/…`` is text."""
    chosen = chosen_option(text, options)
    if chosen is None:
        chosen = next((list(o) for o in options if o[1] and text.strip() == o[1]), None)
    return chosen

"""The core's internal channel: how the gateway hands a WhatsApp or WeChat message to Rasa.

The gateway (public port) stores, acknowledges and sends; the core (an internal port on loopback)
runs the model. ``POST /webhooks/internal/webhook`` takes one message with the channel it came
from and its durable id, runs it through the agent (emergency guard included), and answers with
the bot's messages and the conversation's reply language. A message already in the transcript
(the gateway crashed after the core answered) is not processed again: its replies are read back
from the tracker. Protected by a shared secret header; the core listens on 127.0.0.1 only.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, json

from bot.core_client import TOKEN_HEADER  # one definition, shared with the gateway
from bot.first_come import FirstComeFirstServed


def replies_from_tracker(tracker: Any, message_id: str) -> list[dict[str, Any]]:
    """The bot's messages that followed the user message ``message_id``."""
    replies: list[dict[str, Any]] = []
    seen = False
    for event in tracker.events:
        if event.type_name == "user":
            if seen:
                break
            seen = getattr(event, "message_id", None) == message_id
        elif seen and event.type_name == "bot" and event.text:
            replies.append({"text": event.text, **{k: v for k, v in (event.data or {}).items()
                                                   if k == "buttons" and v}})
    return replies


def answered_ids(tracker: Any) -> set[str]:
    """The message ids of the user messages in the tracker.

    Kept on the tracker object and extended by the events added since the last call, so a long
    conversation is not scanned in full for every message (the tracker store keeps the object)."""
    scanned, ids = tracker.__dict__.get("_smo_message_ids", (0, set()))
    events = tracker.events
    if scanned > len(events):  # the tracker was rebuilt shorter (a new session): start over
        scanned, ids = 0, set()
    for index in range(scanned, len(events)):
        if events[index].type_name == "user" and getattr(events[index], "message_id", None):
            ids.add(events[index].message_id)
    tracker.__dict__["_smo_message_ids"] = (len(events), ids)
    return ids


class InternalInput(InputChannel):
    """Rasa input channel ``internal`` (core only; registered by the core's credentials)."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token if token is not None else os.environ.get("SMO_INTERNAL_TOKEN", "")
        # Messages are answered first come, first served, two at a time (bot.first_come
        # explains why).
        self.turns = FirstComeFirstServed(int(os.environ.get("SMO_CORE_CONCURRENCY", "2")))

    @classmethod
    def name(cls) -> str:
        return "internal"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("internal_webhook", __name__)

        @bp.post("/webhook")
        async def receive(request: Request) -> HTTPResponse:
            given = request.headers.get(TOKEN_HEADER, "")
            if not self.token or not hmac.compare_digest(given.encode(), self.token.encode()):
                return json({"error": "forbidden"}, status=403)
            body = request.json or {}
            agent = request.app.ctx.agent
            if agent is None:
                return json({"error": "model loading"}, status=503)
            sender, message_id = str(body["sender"]), str(body["message_id"])
            channel = str(body.get("input_channel") or "internal")
            async with self.turns.turn():
                return await self._answer(agent, body, sender, message_id, channel,
                                          on_new_message)

        return bp

    @staticmethod
    async def _answer(agent: Any, body: dict[str, Any], sender: str, message_id: str,
                      channel: str, on_new_message: Callable[[UserMessage], Awaitable[Any]]
                      ) -> HTTPResponse:
        """Run one message through the agent (or read back its replies if it already ran)."""
        tracker = await agent.processor.get_tracker(sender)
        if message_id in answered_ids(tracker):
            messages = replies_from_tracker(tracker, message_id)
        else:
            collector = CollectingOutputChannel()
            user_message = UserMessage(str(body.get("text", "")), collector, sender,
                                       input_channel=channel, message_id=message_id,
                                       metadata=body.get("metadata") or {})
            if body.get("log_only"):
                await agent.processor.log_message(user_message, should_save_tracker=True)
            else:
                await on_new_message(user_message)
            messages = collector.messages
            tracker = await agent.processor.get_tracker(sender)
        return json({"messages": messages, "language": tracker.get_slot("language")})

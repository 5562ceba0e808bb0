"""The emergency guard for conversations a nurse holds.

A paused conversation runs no dialogue policy, so ``EmergencyPolicy`` cannot answer there. Every
incoming message passes this guard first: if a human holds the conversation and the message
screens as an emergency, the customer gets the emergency answer at once (before the nurse has even
read it) and an urgent alert is raised. The message then goes to Rasa as usual, which records it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import BotUttered

from bot import responses
from bot.cases import store
from bot.events import EventBus
from bot.language import decide, detect
from bot.screening import screen

logger = logging.getLogger(__name__)


def install(agent: Agent, bus: EventBus) -> None:
    """Wrap ``agent.handle_message`` so every channel's messages pass the guard."""
    original: Callable[[UserMessage], Awaitable[Any]] = agent.handle_message

    async def guarded(message: UserMessage) -> Any:
        answer = None
        try:
            answer = await _answer_emergency_if_held(agent, bus, message)
        except Exception:  # the guard must never stop a message from being recorded
            logger.exception("emergency guard failed; the message is still processed")
        result = await original(message)
        if answer is not None:  # after Rasa recorded the message, so the transcript is in order
            async with agent.lock_store.lock(message.sender_id):
                tracker = await agent.processor.get_tracker(message.sender_id)
                tracker.update(
                    BotUttered(answer, metadata={"response": "utter_emergency", "guard": True})
                )
                await agent.processor.save_tracker(tracker)
        return result

    agent.handle_message = guarded  # type: ignore[method-assign]


async def _answer_emergency_if_held(
    agent: Agent, bus: EventBus, message: UserMessage
) -> str | None:
    """Send the emergency answer when a human holds the conversation; return what was sent."""
    text = message.text or ""
    held = store.active_case_for(message.sender_id)
    await bus.publish(
        "message", {"conversation": message.sender_id, "case": held.id if held else None}
    )
    if held is None:
        return None
    detected = detect(text)
    language = decide(held.language, detected)
    if language != held.language:  # staff answer in the language the customer writes now
        store.set_language(held.id, language)
    screening = screen(text, detected.language)
    if screening.category != "emergency":
        return None
    answer = responses.text("utter_emergency", language)
    await message.output_channel.send_text_message(message.sender_id, answer)
    store.open_case(
        conversation_id=message.sender_id,
        channel=held.channel,
        language=language,
        queue=held.queue,
        priority="urgent",
        reason="emergency",
        screening=screening.as_dict(),
    )
    await bus.publish("alert", {"case": held.id, "kind": "emergency"})
    return answer

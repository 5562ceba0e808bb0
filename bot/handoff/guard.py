"""The emergency guard: conversations a nurse holds, and the screening's second net.

A paused conversation runs no dialogue policy, so ``EmergencyPolicy`` cannot answer there. Every
incoming message passes this guard first: if a human holds the conversation and the message
screens as an emergency, the customer gets the emergency answer at once (before the nurse has even
read it) and an urgent alert is raised. The message then goes to Rasa as usual, which records it.

The second net (``Screening.ask_if_now``: the screening is not sure, yet the message carries signs
of acute danger) is answered here for every conversation, held or not: right after the assistant's
own reply (so a form goes on and a question is still answered), the customer is asked whether it is
happening now, with 999 / 120 in the same message (``utter_emergency_check``). A "yes" to it is
answered as an emergency by ``EmergencyPolicy``. It is not asked twice in a row.
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
from bot.nlu.emergency_policy import CHECK, asked_since_last_message
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
        else:
            try:
                await _ask_if_happening_now(agent, message)
            except Exception:  # the message itself was processed; say so in the log
                logger.exception("emergency check failed; the message was processed")
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


async def _ask_if_happening_now(agent: Agent, message: UserMessage) -> str | None:
    """The second net: ask whether it is happening now (999 / 120 in the same message) when the
    screening is not sure and the message shows signs of acute danger; return what was sent."""
    text = message.text or ""
    if not text or text.startswith("/"):  # a button's payload describes nothing
        return None
    if not screen(text).ask_if_now:
        return None
    async with agent.lock_store.lock(message.sender_id):
        tracker = await agent.processor.get_tracker(message.sender_id)
        if asked_since_last_message(tracker.events):
            return None  # asked in the previous turn: not twice in a row
        held = store.active_case_for(message.sender_id)
        language = held.language if held is not None else tracker.get_slot("language")
        answer = responses.text(CHECK, language or decide(None, detect(text)))
        await message.output_channel.send_text_message(message.sender_id, answer)
        tracker.update(BotUttered(answer, metadata={"response": CHECK, "guard": True}))
        await agent.processor.save_tracker(tracker)
    return answer

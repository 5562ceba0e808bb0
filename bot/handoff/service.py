"""The handoff service API: queue, claim, reply, note, transfer, close, transcript.

It runs in the public server, next to the Rasa agent, because pausing and resuming a conversation
and writing staff turns into the transcript are tracker operations. The transcript *is* the Rasa
tracker: customer, bot and staff turns (staff turns are bot turns with ``metadata.staff``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from rasa.core.agent import Agent
from rasa.shared.core.events import BotUttered, ConversationPaused, ConversationResumed

from bot.cases import store
from bot.cases.models import Case
from bot.events import EventBus
from bot.language import reply_script
from bot.outbound import Delivery, Outbound


def render(agent: Agent, response: str, language: str | None, channel: str, **kwargs: Any) -> str:
    """The text of a domain response for a reply language (variants chosen by Rasa's conditions)."""
    message = agent.processor.nlg.generate_from_slots(
        response, {"language": language}, channel, **kwargs
    )
    return (message or {}).get("text") or ""


@dataclass(frozen=True)
class Turn:
    """One line of a transcript."""

    role: str  # "customer", "bot", "staff"
    text: str
    at: datetime
    author: str | None = None


class HandoffService:
    """Everything staff do to a case, with the conversation kept consistent."""

    def __init__(self, agent: Agent, outbound: Outbound, bus: EventBus,
                 runner: Callable[[Coroutine[Any, Any, Any]], Awaitable[Any]] | None = None
                 ) -> None:
        self.agent = agent
        self.outbound = outbound
        self.bus = bus
        self._run = runner or (lambda coroutine: coroutine)  # the agent's own loop

    async def _append(self, conversation_id: str, *events: Any) -> None:
        await self._run(self._append_here(conversation_id, *events))

    async def _append_here(self, conversation_id: str, *events: Any) -> None:
        processor = self.agent.processor
        async with self.agent.lock_store.lock(conversation_id):
            tracker = await processor.get_tracker(conversation_id)
            for event in events:
                tracker.update(event)
            await processor.save_tracker(tracker)

    async def _say(self, case: Case, response: str, **kwargs: Any) -> Delivery:
        """Send one of the domain's responses in the case's language, and record it."""
        text = render(self.agent, response, case.language, case.channel, **kwargs)
        await self._append(case.conversation_id, BotUttered(text, metadata={"response": response}))
        return await self.outbound.deliver(case.channel, case.conversation_id, text)

    async def claim(self, case_id: int, user: str) -> Case:
        """One owner; pause the bot for the conversation while the human holds it."""
        case = store.claim(case_id, user)
        await self._append(case.conversation_id, ConversationPaused())
        await self.bus.publish("case", {"id": case.id, "status": case.status, "owner": user})
        return case

    async def reply(self, case_id: int, user: str, text: str) -> Delivery:
        """A staff message, out through the customer's channel and into the transcript."""
        text = text.strip()
        if not text:
            raise store.CaseError("a reply cannot be empty")
        case = store.get(case_id)
        if case.status != "claimed" or case.owner != user:
            raise store.CaseError(f"case {case.reference} is not claimed by {user}")
        await self._append(
            case.conversation_id, BotUttered(text, metadata={"staff": user, "case": case.id})
        )
        delivery = await self.outbound.deliver(case.channel, case.conversation_id, text)
        store.record_reply(case_id, user, delivery=delivery.status)
        await self.bus.publish("case", {"id": case.id, "reply": delivery.status})
        return delivery

    async def note(self, case_id: int, user: str, body: str) -> None:
        """Internal note; never reaches the customer."""
        store.add_note(case_id, user, body)

    async def transfer(self, case_id: int, user: str, queue: str) -> Case:
        """To the other queue; the bot stays paused only while someone holds the case."""
        before = store.get(case_id)
        case = store.transfer(case_id, user, queue)
        if before.status == "claimed":
            await self._append(case.conversation_id, ConversationResumed())
        await self.bus.publish("case", {"id": case.id, "queue": queue, "status": case.status})
        return case

    async def close(self, case_id: int, user: str, outcome: str) -> Case:
        """Close with an outcome, resume the bot, and let it say so."""
        case = store.close(case_id, user, outcome)
        await self._append(case.conversation_id, ConversationResumed())
        await self._say(case, "utter_handoff_closed")
        await self.bus.publish("case", {"id": case.id, "status": "closed", "outcome": outcome})
        return case

    async def transcript(self, case: Case) -> list[Turn]:
        """Customer, bot and staff turns of the case's conversation, oldest first."""
        tracker = await self._run(self.agent.processor.get_tracker(case.conversation_id))
        turns: list[Turn] = []
        for event in tracker.events:
            at = datetime.fromtimestamp(event.timestamp, tz=timezone.utc)
            if event.type_name == "user" and event.text:
                turns.append(Turn("customer", event.text, at))
            elif event.type_name == "bot" and event.text:
                staff = (event.metadata or {}).get("staff")
                turns.append(Turn("staff" if staff else "bot", event.text, at, staff))
        return turns

    def script_of(self, case: Case) -> str:
        """The reply script staff should write in for this case."""
        return reply_script(case.language)

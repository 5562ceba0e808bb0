"""Keeps the ``language`` slot: which language and script the bot replies in.

Runs after every user message as Rasa's global slot-mapping action. Detection happened in the NLU
pipeline (``language_detection`` in the parse data); the decision needs the previous value, so it
lives here. The rules are in :func:`bot.language.decide`.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction
from rasa_sdk.types import DomainDict

from bot.language import Detection, decide

LANGUAGE_SLOT = "language"


class ValidateSlotMappings(ValidationAction):
    """``action_validate_slot_mappings``: fills custom-mapped slots (today: ``language``)."""

    async def extract_language(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Sticky reply language from this message's detection and the current value."""
        if tracker.latest_action_name not in (None, "action_listen"):
            # Rasa re-runs slot extraction when a form activates; this message was already judged.
            return {}
        latest = tracker.latest_message or {}
        detection = Detection.from_dict(latest.get("language_detection"))
        intent = (latest.get("intent") or {}).get("name")
        previous = tracker.get_slot(LANGUAGE_SLOT)
        answering = bool(tracker.active_loop.get("name") and tracker.get_slot("requested_slot"))
        language = decide(previous, detection, intent, answering=answering)
        if language == previous:
            return {}
        return {LANGUAGE_SLOT: language}

    async def validate_language(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Nothing to check (``decide`` only returns known labels); declared so rasa_sdk does
        not warn on every message that the slot has no validation method."""
        return {LANGUAGE_SLOT: slot_value}

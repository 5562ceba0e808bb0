"""Two-stage fallback: ask to rephrase once, then offer a nurse.

A custom action only because the choice depends on how many misses came in a row; the wording
stays in the domain's responses.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

FALLBACK_INTENT = "nlu_fallback"
MISSES_BEFORE_NURSE = 2


def consecutive_misses(events: list[dict[str, Any]]) -> int:
    """How many of the latest user messages in a row the model did not understand."""
    misses = 0
    for event in reversed(events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent != FALLBACK_INTENT:
            break
        misses += 1
    return misses


class ActionHandleFallback(Action):
    """``action_handle_fallback``: rephrase, and after two misses in a row, offer a nurse."""

    def name(self) -> str:
        return "action_handle_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if consecutive_misses(tracker.events) >= MISSES_BEFORE_NURSE:
            dispatcher.utter_message(response="utter_offer_nurse")
        else:
            dispatcher.utter_message(response="utter_ask_rephrase")
        # No UserUtteranceReverted: it would also undo this turn's language change.
        return []

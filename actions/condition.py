"""Collecting the condition, then screening it against the exclusions.

One message describes it (or the request already did: ``actions.consent``); it is screened at
once. A description too vague to screen gets one clarifying question, whose answer is added to it.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.asking import ask
from actions.digression import answer_digression, leaving
from actions.flow import PACKET_SLOTS
from bot.diagnosis import named_condition
from bot.screening import screen

MAX_NOTES = 20  # a description, not a diary: later messages still reach the nurse transcript


def _notes(tracker: Tracker) -> list[str]:
    return list(tracker.get_slot("condition_notes") or [])


class ValidateConditionForm(FormValidationAction):
    """``validate_condition_form``: the description (or the answer to the clarifying question)
    is added to the notes."""

    def name(self) -> str:
        return "validate_condition_form"

    async def run(self, dispatcher, tracker, domain):  # noqa: ANN001, ANN201 - SDK signature
        """A nurse request or "stop" leaves by the rules (it is not more description, at any
        step); a confident question is answered and the step asked again."""
        if leaving(tracker):
            return []
        answered = answer_digression(dispatcher, tracker)
        if answered is not None:
            return answered
        return await super().run(dispatcher, tracker, domain)

    def validate_condition_text(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        if not text or value == "received":
            return {"condition_text": None if not text else value}
        notes = [*_notes(tracker), text][-MAX_NOTES:]
        return {"condition_text": "received", "condition_notes": notes}


class ActionScreenCondition(Action):
    """``action_screen_condition``: screen the whole description and take the matching branch."""

    def name(self) -> str:
        return "action_screen_condition"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        description = "\n".join(_notes(tracker))
        result = screen(description, tracker.get_slot("language"))
        events: list[dict[str, Any]] = [
            SlotSet("screening_category", result.category),
            SlotSet("screening", result.as_dict()),
        ]
        category = result.category
        if category == "emergency":
            return [*events, FollowupAction("action_emergency")]
        if category == "eligible":
            dispatcher.utter_message(response="utter_screen_eligible")
            # The condition it names is the diagnosis: the packet does not ask for it again.
            named = named_condition(description, tracker.get_slot("language"))
            return [
                *events,
                *[SlotSet(s, None) for s in PACKET_SLOTS],
                SlotSet("diagnosis", named),
                FollowupAction("case_packet_form"),
            ]
        if category == "unclear":
            if not tracker.get_slot("clarified"):
                # One clarifying question (the form's ask changes with `clarified`), then a nurse.
                return [
                    *events,
                    SlotSet("clarified", True),
                    SlotSet("condition_text", None),
                    FollowupAction("condition_form"),
                ]
            return [*events, FollowupAction("action_handoff_nurse")]
        # The refusal says why and offers the nurse chat (its button) and the hotline; a yes to it
        # is taken by the rules (data/rules/care.yml), so it is sent as the action it is.
        return [*events, FollowupAction(f"utter_excluded_{category}")]


class ActionAskConditionText(Action):
    """``action_ask_condition_text``: the form's question, or the one clarifying question."""

    def name(self) -> str:
        return "action_ask_condition_text"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if tracker.get_slot("clarified"):
            dispatcher.utter_message(response="utter_ask_clarify")
            return []
        return ask(dispatcher, tracker, "utter_ask_condition_text")

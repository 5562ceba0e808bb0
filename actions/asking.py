"""The forms' questions: the full one, or after an answered digression the short one, once.

Rasa asks a form's next slot with ``action_ask_<slot>`` when the domain has it. Each action here
sends ``utter_ask_<slot>``, or ``utter_ask_<slot>_short`` when the form's validation just answered
a question the customer asked instead (``reask``, set by ``actions.digression``), and clears the
flag so the short form is used once.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.digression import REASK_SLOT
from actions.flow import PACKET_SLOTS


def ask(dispatcher: CollectingDispatcher, tracker: Tracker, response: str) -> list[dict[str, Any]]:
    """Send ``response`` (or its short form after a digression); the events clearing the flag."""
    if tracker.get_slot(REASK_SLOT):
        dispatcher.utter_message(response=f"{response}_short")
        return [SlotSet(REASK_SLOT, None)]
    dispatcher.utter_message(response=response)
    return []


class _Ask:
    """Shared body: ``slot`` names the question (subclasses are the domain's actions)."""

    slot = ""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        return ask(dispatcher, tracker, f"utter_ask_{self.slot}")


# The questions that have a short form (``utter_ask_<slot>_short``); the domain lists each one's
# ``action_ask_<slot>``. Rasa's SDK serves one Action subclass per action name, so one is made
# per slot here instead of a class written out for each.
SHORT_FORM_SLOTS = ("policy_number", "date_of_birth", *PACKET_SLOTS)


def _ask_action(slot: str) -> type[Action]:
    """The ``action_ask_<slot>`` class (registered by the SDK like a written-out subclass)."""
    return type(f"Ask_{slot}", (_Ask, Action),
                {"slot": slot, "__module__": __name__, "__doc__": f"``action_ask_{slot}``."})


ASK_ACTIONS = {slot: _ask_action(slot) for slot in SHORT_FORM_SLOTS}

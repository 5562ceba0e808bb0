"""``action_emergency``: the emergency answer, from any state, and an urgent alert for the nurses.

Predicted by ``EmergencyPolicy`` from the message's screening (never the intent classifier alone),
or after a "yes" to the screening's "is it happening now?" (the case's screening then says
``confirmed_now``).
Any running form is stopped: nobody should be asked for a policy number during an emergency.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.context import identity_of, language_of
from bot.cases import store


class ActionEmergency(Action):
    """Tell the customer to call 999 / 120 now, and raise an urgent case for the nurses."""

    def name(self) -> str:
        return "action_emergency"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(response="utter_emergency")
        identity = identity_of(tracker)
        screening = dict((tracker.latest_message or {}).get("screening") or {})
        if screening.get("category") != "emergency":  # a "yes" to "is it happening now?"
            screening["confirmed_now"] = True
        store.open_case(
            conversation_id=tracker.sender_id,
            channel=identity.channel,
            language=language_of(tracker),
            queue="nurse",
            priority="urgent",
            reason="emergency",
            screening=screening,
        )
        dispatcher.utter_message(response="utter_emergency_alerted")
        events: list[dict[str, Any]] = []
        requested = tracker.get_slot("requested_slot")
        if tracker.active_loop.get("name"):
            events.append(ActiveLoop(None))
            events.append(SlotSet("requested_slot", None))
            if requested:  # the emergency text must not stay as, say, the policy number
                events.append(SlotSet(requested, None))
        return events

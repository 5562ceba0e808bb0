"""Handing a conversation to a Health Office nurse: queue a case and tell the customer when."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.context import identity_of, language_of
from actions.flow import PACKET_SLOTS, said_in_passing
from bot.cases import store
from bot.office_hours import OfficeHours


def announce_handoff(
    dispatcher: CollectingDispatcher, *, quiet: bool = False, case_ref: str | None = None,
    language: str | None = None,
) -> list[dict[str, Any]]:
    """Queued message, or office hours and hotlines when nobody is in."""
    hours = OfficeHours.from_env()
    if not hours.is_open():
        dispatcher.utter_message(
            response="utter_handoff_after_hours",
            office_hours=hours.describe(language),
            next_open=f"{hours.next_open():%Y-%m-%d %H:%M}",
        )
    elif not quiet:
        dispatcher.utter_message(response="utter_handoff_queued", case_ref=case_ref or "")
    return []


class ActionHandoffNurse(Action):
    """``action_handoff_nurse``: a nurse-queue case with whatever the bot has collected."""

    def name(self) -> str:
        return "action_handoff_nurse"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        identity = identity_of(tracker)
        reason = {
            "unclear": "unclear",
            "accident": "excluded",
            "common_illness": "excluded",
            "chronic_management": "excluded",
        }.get(tracker.get_slot("screening_category") or "", "request_human")
        if tracker.get_slot("eligibility_reason") not in (None, "eligible"):
            reason = "not_eligible"
        from actions.verification import eligibility_of

        stored = tracker.get_slot("verified_policy") or {}
        packet = {slot: tracker.get_slot(slot) for slot in PACKET_SLOTS if tracker.get_slot(slot)}
        if notes := tracker.get_slot("condition_notes"):
            packet["description"] = notes
        packet.update(said_in_passing(tracker))
        case = store.open_case(
            conversation_id=tracker.sender_id,
            channel=identity.channel,
            language=language_of(tracker),
            queue="nurse",
            reason=reason,
            packet=packet,
            eligibility=eligibility_of(tracker),
            screening=tracker.get_slot("screening") or {},
            customer_id=stored.get("customer_id"),
            policy_number=stored.get("number"),
        )
        dispatcher.utter_message(response="utter_handoff_queued", case_ref=case.reference)
        announce_handoff(dispatcher, quiet=True, language=language_of(tracker))
        events: list[dict[str, Any]] = [SlotSet("case_ref", case.reference)]
        if tracker.active_loop.get("name"):
            events += [ActiveLoop(None), SlotSet("requested_slot", None)]
        return events

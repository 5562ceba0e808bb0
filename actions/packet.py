"""The case packet for the case doctor, its summary, and creating the case."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.context import identity_of, language_of
from actions.digression import answer_digression, answer_is_a_question, leaving
from actions.flow import PACKET_SLOTS, said_in_passing
from actions.handoff import announce_handoff
from actions.verification import eligibility_of
from bot.cases import store

MAX_FIELD = 500  # a packet field is a line, not an essay; the transcript keeps everything
# A telephone number inside a sentence: a country code perhaps, then eight digits or more.
_PHONE = re.compile(r"\+?\d(?:[\s\-]?\d){7,14}")
SUMMARY_ANSWERS = ("affirm", "deny")


class ValidateCasePacketForm(FormValidationAction):
    """``validate_case_packet_form``: trims each answer; a phone number needs digits."""

    def name(self) -> str:
        return "validate_case_packet_form"

    async def run(self, dispatcher, tracker, domain):  # noqa: ANN001, ANN201 - SDK signature
        """A nurse request or "stop" leaves by the rules, at every step; a question is answered
        and the step asked again (a phone number is never taken for one)."""
        requested = tracker.get_slot("requested_slot")
        if answer_is_a_question(tracker):
            text = ((tracker.latest_message or {}).get("text") or "").strip()
            tracker.add_slots([SlotSet(requested, text)])
        elif leaving(tracker):
            return []
        answered = answer_digression(
            dispatcher,
            tracker,
            (lambda text: sum(ch.isdigit() for ch in text) >= 8)
            if requested == "callback_number"
            else None,
        )
        if answered is not None:
            return answered
        return await super().run(dispatcher, tracker, domain)

    async def validate(self, dispatcher, tracker, domain):  # noqa: ANN001, ANN201 - SDK signature
        events = await super().validate(dispatcher, tracker, domain)
        for event in events:
            if event.get("event") == "slot" and event.get("name") in PACKET_SLOTS:
                value = event.get("value")
                if isinstance(value, str):
                    event["value"] = value.strip()[:MAX_FIELD] or None
        return events

    def validate_callback_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:  # a reset, not an answer
            return {"callback_number": None}
        digits = sum(ch.isdigit() for ch in str(value))
        if digits < 8:
            # Say why; the form asks for the number again itself (asking here too made it twice).
            dispatcher.utter_message(response="utter_invalid_callback_number")
            return {"callback_number": None}
        return {"callback_number": str(value).strip()}


class ValidateSummaryForm(FormValidationAction):
    """``validate_summary_form``: only an answer to the summary confirms it.

    Rasa reads a form's slots from the latest message when the form starts: the "得" / "ok"
    that answered the call-back time would otherwise confirm a summary nobody has seen yet.
    """

    def name(self) -> str:
        return "validate_summary_form"

    async def run(self, dispatcher, tracker, domain):  # noqa: ANN001, ANN201 - SDK signature
        """A new call-back number sent instead of a yes or no ("sorry, call me on 9123 4567")
        replaces the old one; the summary is shown again with it."""
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        text = ((tracker.latest_message or {}).get("text") or "").strip()
        phone = _PHONE.search(text)
        if (tracker.get_slot("requested_slot") == "summary_confirmed" and phone
                and intent not in SUMMARY_ANSWERS and not leaving(tracker)):
            # (the summary slot set, even to None, keeps the form waiting for the yes or no)
            return [SlotSet("callback_number", phone.group(0).strip()),
                    SlotSet("summary_confirmed", None)]
        return await super().run(dispatcher, tracker, domain)

    def validate_summary_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "summary_confirmed":
            return {"summary_confirmed": None}
        return {"summary_confirmed": value if isinstance(value, bool) else None}


class ActionSubmitCase(Action):
    """``action_submit_case``: on a confirmed summary, create the case for the case doctor."""

    def name(self) -> str:
        return "action_submit_case"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if tracker.get_slot("summary_confirmed") is not True:
            dispatcher.utter_message(response="utter_summary_rejected")
            return [
                *[SlotSet(s, None) for s in PACKET_SLOTS],
                SlotSet("summary_confirmed", None),
                FollowupAction("case_packet_form"),
            ]
        identity = identity_of(tracker)
        stored = tracker.get_slot("verified_policy") or {}
        packet = {slot: tracker.get_slot(slot) for slot in PACKET_SLOTS}
        packet["description"] = tracker.get_slot("condition_notes") or []
        packet.update(said_in_passing(tracker))
        case = store.open_case(
            conversation_id=tracker.sender_id,
            channel=identity.channel,
            language=language_of(tracker),
            queue="case_doctor",
            reason="second_opinion",
            packet=packet,
            eligibility=eligibility_of(tracker),
            screening=tracker.get_slot("screening") or {},
            customer_id=stored.get("customer_id"),
            policy_number=stored.get("number"),
        )
        dispatcher.utter_message(
            response="utter_case_created",
            case_ref=case.reference,
            call_language=packet.get("call_language") or "",
        )
        dispatcher.utter_message(response="utter_what_next")
        return [SlotSet("case_ref", case.reference), *announce_handoff(dispatcher, quiet=True,
                                                                   language=language_of(tracker))]

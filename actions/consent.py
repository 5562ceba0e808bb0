"""Starting the second-opinion flow, and the consent step before any health information."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.context import identity_of, language_of
from actions.digression import answer_digression
from actions.flow import FLOW_SLOTS, after_verification
from actions.verification import find_policy_number
from bot.consent import wording_version
from bot.policies import directory

# Screening categories that mean the message named a condition (eligible or not: the screening of
# the whole description decides later); "unclear" messages named none.
TOLD_CATEGORIES = ("eligible", "common_illness", "chronic_management", "accident")
# A request or description naming only what the service excludes is refused at once, with why and
# both next steps: no consent, policy or date of birth is asked for nothing.
EXCLUDED_CATEGORIES = ("common_illness", "chronic_management", "accident")
RECENT_MESSAGES = 2  # the request itself, or the description before a "yes" to the offer


class ActionStartSecondOpinion(Action):
    """``action_start_second_opinion``: fresh flow; skip the steps a returning customer has done."""

    def name(self) -> str:
        return "action_start_second_opinion"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = [SlotSet(slot, None) for slot in FLOW_SLOTS]
        if refusal := excluded_at_once(tracker):
            return [*events, *refusal]
        events += condition_already_told(tracker)
        identity = identity_of(tracker)
        if not directory.has_consent(identity, wording_version()):
            return [*events, FollowupAction("consent_form")]
        events.append(SlotSet("consent_given", True))
        return events + after_verification_or_form(dispatcher, identity)


def excluded_at_once(tracker: Tracker) -> list[dict[str, Any]]:
    """The refusal for a message that names only an excluded condition ("had a fever for three
    days, can I use it?"), as the response action the rules' nurse offer follows; else none."""
    screening = (tracker.latest_message or {}).get("screening") or {}
    category = screening.get("category")
    if category not in EXCLUDED_CATEGORIES:
        return []
    text = ((tracker.latest_message or {}).get("text") or "").strip()
    return [SlotSet("screening_category", category), SlotSet("screening", screening),
            SlotSet("condition_notes", [text]), FollowupAction(f"utter_excluded_{category}")]


class ActionAcknowledgeCondition(Action):
    """``action_acknowledge_condition``: a description that names no condition the service takes:
    an excluded one is refused at once; anything else gets the service explained and the check
    offered (``utter_describe_condition_ack``; the rules take a "yes" after this action)."""

    def name(self) -> str:
        return "action_acknowledge_condition"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if refusal := excluded_at_once(tracker):
            return refusal
        dispatcher.utter_message(response="utter_describe_condition_ack")
        return []


def condition_already_told(tracker: Tracker) -> list[dict[str, Any]]:
    """The condition the request came with ("my mother has breast cancer, how do we apply?"),
    or the one described just before a "yes" to "check my eligibility?", kept as the start of
    the description, so the condition step asks only whether there is more to add.

    What counts as a condition is the screening of that message (the NLU pipeline's
    ``screening``): a named condition, covered or not; an emergency never gets here.
    """
    for message in _recent_user_messages(tracker, RECENT_MESSAGES):
        category = (message.get("parse_data", {}).get("screening") or {}).get("category")
        text = (message.get("text") or "").strip()
        if category in TOLD_CATEGORIES and text and not text.startswith("/"):
            return [SlotSet("condition_notes", [text]), SlotSet("condition_text", "received")]
    return []


def _recent_user_messages(tracker: Tracker, count: int) -> list[dict[str, Any]]:
    """The last ``count`` customer messages, newest first."""
    found = [e for e in reversed(tracker.events) if e.get("event") == "user"]
    return found[:count]


def after_verification_or_form(
    dispatcher: CollectingDispatcher, identity: directory.Identity
) -> list[dict[str, Any]]:
    """A remembered identity goes straight to eligibility; others verify."""
    policy = directory.remembered(identity)
    if policy is None:
        return [FollowupAction("verification_form")]
    dispatcher.utter_message(
        response="utter_verified_welcome_back", policy_suffix=policy.number[-4:]
    )
    return after_verification(policy)


class ValidateConsentForm(FormValidationAction):
    """``validate_consent_form``: only a clear yes or no fills ``consent_given``."""

    def name(self) -> str:
        return "validate_consent_form"

    async def run(self, dispatcher, tracker, domain):  # noqa: ANN001, ANN201 - SDK signature
        """A question asked instead of the yes or no is answered; consent is asked again.

        Only an answer to the question counts: the "ok" that took the offer to check eligibility
        (and so started this form) is not consent to what the question then explains.
        """
        if tracker.get_slot("requested_slot") != "consent_given":
            return [SlotSet("consent_given", None)]
        answered = answer_digression(dispatcher, tracker, None, short=False)
        if answered is not None:
            return answered
        events = await super().run(dispatcher, tracker, domain)
        text = ((tracker.latest_message or {}).get("text") or "").strip()
        number = find_policy_number(text) if not _fills(events, "consent_given") else None
        if number:
            # The policy number sent before answering: kept (it is not health information), so
            # after the yes the verification asks only for the date of birth.
            # (the consent slot set, even to None, keeps the form waiting for the yes or no)
            events += [SlotSet("policy_number", number), SlotSet("consent_given", None)]
        return events

    def validate_consent_given(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"consent_given": value if isinstance(value, bool) else None}


def _fills(events: list[dict[str, Any]], slot: str) -> bool:
    """True when ``events`` give ``slot`` a value."""
    return any(e.get("event") == "slot" and e.get("name") == slot and e.get("value") is not None
               for e in events)


class ActionAfterConsent(Action):
    """``action_after_consent``: store the answer with the wording version; go on or stop kindly."""

    def name(self) -> str:
        return "action_after_consent"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        identity = identity_of(tracker)
        granted = tracker.get_slot("consent_given") is True
        directory.record_consent(identity, granted, wording_version(), language_of(tracker))
        if not granted:
            dispatcher.utter_message(response="utter_consent_declined")
            return []
        return after_verification_or_form(dispatcher, identity)

"""Verification: policy number and the insured person's date of birth, with a uniform failure.

The form never says which of the two was wrong. Failures lock the identity, the policy number
(whoever guesses) and the REST client (``bot.policies.directory``); a locked answer is the same
whether or not the policy exists, and sends the customer to the hotline and the nurses. Entered
values are cleared after every attempt, so they do not linger in the conversation's slots.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.context import identity_of, language_of
from actions.flow import after_verification
from bot.dates import parse_date_of_birth
from bot.eligibility import check
from bot.plans import catalogue
from bot.policies import directory
from bot.policies.directory import VerifiedPolicy

_POLICY_NUMBER = re.compile(r"^[A-Z]{0,4}\d{5,12}$")


def normalise_policy_number(text: str) -> str | None:
    """``ci 1000 0001`` → ``CI10000001``; ``None`` if it cannot be a policy number."""
    from bot.language import fold_width_and_case

    compact = re.sub(r"[\s\-_/.#:：]", "", fold_width_and_case(text or "")).upper()
    compact = re.sub(r"^(?:POLICY|NO|保單號碼|保单号码|保單|保单)+", "", compact)
    return compact if _POLICY_NUMBER.match(compact) else None


def client_key_of(tracker: Tracker) -> str | None:
    """The REST channel's pseudonym for the caller (set by the channel, never by the body), so
    failures are counted per client too; absent on WhatsApp and WeChat, whose sender ids (a
    phone number, an openid) cannot be minted freely."""
    metadata = tracker.latest_message.get("metadata") or {}
    key = metadata.get("client_key") if isinstance(metadata, dict) else None
    return key if isinstance(key, str) and key else None


class ValidateVerificationForm(FormValidationAction):
    """``validate_verification_form``."""

    def name(self) -> str:
        return "validate_verification_form"

    def validate_policy_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:  # a reset, not an answer
            return {"policy_number": None}
        number = normalise_policy_number(str(value))
        if number is None:
            dispatcher.utter_message(response="utter_policy_number_format")
        return {"policy_number": number}

    def validate_date_of_birth(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"date_of_birth": None}
        born = parse_date_of_birth(str(value))
        if born is None:
            dispatcher.utter_message(response="utter_dob_format")
            return {"date_of_birth": None}
        number = tracker.get_slot("policy_number")
        if not number:
            return {"date_of_birth": None}
        result = directory.verify(
            identity_of(tracker), number, born, client_key=client_key_of(tracker)
        )
        if result.outcome == "verified":
            return {
                "date_of_birth": "checked",
                "policy_number": "checked",
                "verification": "verified",
            }
        if result.outcome == "locked":
            dispatcher.utter_message(response="utter_verification_locked")
            return {
                "date_of_birth": "checked",
                "policy_number": "checked",
                "verification": "locked",
            }
        dispatcher.utter_message(response="utter_verification_failed")
        return {"date_of_birth": None, "policy_number": None}


class ActionAfterVerification(Action):
    """``action_after_verification``: locked → stop; verified → eligibility."""

    def name(self) -> str:
        return "action_after_verification"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        cleared = [SlotSet("policy_number", None), SlotSet("date_of_birth", None)]
        if tracker.get_slot("verification") != "verified":
            return [*cleared, FollowupAction("utter_offer_nurse_chat")]
        policy = directory.remembered(identity_of(tracker))
        if policy is None:  # verified a moment ago; only a purge in between can cause this
            return [*cleared, SlotSet("verification", None), FollowupAction("verification_form")]
        return [*cleared, *after_verification(policy)]


class ActionExplainEligibility(Action):
    """``action_explain_eligibility``: tell the customer the outcome and the next step."""

    def name(self) -> str:
        return "action_explain_eligibility"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        stored = tracker.get_slot("verified_policy") or {}
        reason = tracker.get_slot("eligibility_reason") or "not_found"
        plan = catalogue().get(stored.get("plan_code", ""))
        plan_name = plan.name(language_of(tracker)) if plan else ""
        events: list[dict[str, Any]] = [SlotSet("plan_name", plan_name)]
        if reason == "eligible":
            dispatcher.utter_message(response="utter_eligible", plan_name=plan_name)
            return [*events, FollowupAction("condition_form")]
        dispatcher.utter_message(
            response=f"utter_not_eligible_{reason}",
            plan_name=plan_name,
            effective_date=tracker.get_slot("effective_date") or "",
        )
        return [*events, FollowupAction("utter_offer_nurse_chat")]


def eligibility_of(tracker: Tracker) -> dict[str, Any]:
    """The eligibility outcome as stored on a case."""
    stored = tracker.get_slot("verified_policy") or {}
    if not stored:
        return {}
    from datetime import date

    policy = VerifiedPolicy(
        stored["number"],
        stored["plan_code"],
        stored["status"],
        date.fromisoformat(stored["effective_date"]),
        stored["customer_id"],
    )
    return check(policy).as_dict()

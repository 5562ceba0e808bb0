"""Starting the second-opinion flow, and the consent step before any health information."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.context import identity_of, language_of
from actions.flow import FLOW_SLOTS, after_verification
from bot.consent import wording_version
from bot.policies import directory


class ActionStartSecondOpinion(Action):
    """``action_start_second_opinion``: fresh flow; skip the steps a returning customer has done."""

    def name(self) -> str:
        return "action_start_second_opinion"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = [SlotSet(slot, None) for slot in FLOW_SLOTS]
        identity = identity_of(tracker)
        if not directory.has_consent(identity, wording_version()):
            return [*events, FollowupAction("consent_form")]
        events.append(SlotSet("consent_given", True))
        return events + after_verification_or_form(dispatcher, identity)


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

    def validate_consent_given(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return {"consent_given": value if isinstance(value, bool) else None}


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

"""Verification: policy number and the insured person's date of birth, with a uniform failure.

The form never says which of the two was wrong. Failures lock the identity, the policy number
(whoever guesses) and the REST client (``bot.policies.directory``); a locked answer is the same
whether or not the policy exists, and sends the customer to the hotline and the nurses. Entered
values are cleared after every attempt, so they do not linger in the conversation's slots.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.context import identity_of, language_of
from actions.digression import answer_digression, leaving
from actions.flow import after_verification
from bot.dates import parse_date_of_birth, with_year, year_only
from bot.eligibility import check
from bot.plans import catalogue
from bot.policies import directory
from bot.policies.directory import VerifiedPolicy

_POLICY_NUMBER = re.compile(r"^[A-Z]{0,4}\d{5,12}$")
# A policy number inside a sentence ("his policy number is CI 1000 0001", "I mean policy CI…"):
# up to four letters glued to (or one space before) five to twelve digits, spaces or dashes
# between digit groups allowed; never part of a date (no "/" or "." inside).
_POLICY_IN_TEXT = re.compile(r"(?<![A-Z0-9])([A-Z]{1,4}[\s\-]?)?(\d(?:[\s\-]?\d){4,11})(?![\d/.])")


def normalise_policy_number(text: str) -> str | None:
    """``ci 1000 0001`` → ``CI10000001``; ``None`` if it cannot be a policy number."""
    from bot.language import fold_width_and_case

    compact = re.sub(r"[\s\-_/.#:：]", "", fold_width_and_case(text or "")).upper()
    compact = re.sub(r"^(?:POLICY|NO|保單號碼|保单号码|保單|保单)+", "", compact)
    return compact if _POLICY_NUMBER.match(compact) else None


def find_policy_number(text: str) -> str | None:
    """The policy number typed alone or inside a sentence; ``None`` when there is none."""
    whole = normalise_policy_number(text)
    if whole is not None and parse_date_of_birth(text) is None:  # 19800315 is a date here
        return whole
    width_folded = unicodedata.normalize("NFKC", text or "")
    for match in _POLICY_IN_TEXT.finditer(width_folded.upper()):
        prefix = (match.group(1) or "").strip(" -")
        typed = width_folded[match.start(1):match.start(1) + len(prefix)] if prefix else ""
        digits = match.group(2)
        if prefix and match.group(1).endswith(" ") and not typed.isupper():
            digits_only = normalise_policy_number(digits)  # "is 98765432": a word, then digits
            candidate = digits_only
        else:
            candidate = normalise_policy_number(match.group(0))
        if candidate is not None and parse_date_of_birth(match.group(0)) is None:
            return candidate
    return None


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

    async def run(self, dispatcher, tracker, domain):  # noqa: ANN001, ANN201 - SDK signature
        """A nurse request or "stop" leaves by the rules; a question is answered, not refused."""
        kept_year = tracker.get_slot("dob_year")

        def is_value(text: str) -> bool:
            return bool(find_policy_number(text) or parse_date_of_birth(text)
                        or year_only(text)
                        or (kept_year and with_year(text, int(kept_year))))

        text = ((tracker.latest_message or {}).get("text") or "").strip()
        requested = tracker.get_slot("requested_slot")
        if leaving(tracker):
            if not (requested and is_value(text)):
                return []
            # A policy number or date outweighs the classifier's guess ("我是说保单CI…" once
            # read as a nurse request): read it as the answer it is.
            tracker.add_slots([SlotSet(requested, text)])
        answered = answer_digression(dispatcher, tracker, is_value)
        if answered is not None:
            return answered
        return await super().run(dispatcher, tracker, domain)

    def validate_policy_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:  # a reset, not an answer
            return {"policy_number": None}
        number = find_policy_number(str(value))
        born = parse_date_of_birth(str(value))
        retry = tracker.get_slot("last_policy_number")
        if number is None and born is not None and retry:
            # "sorry, the date of birth is 16/3/1980" after a failure: the corrected date with
            # the number just tried (kept for this one try only).
            return {**self._verify(dispatcher, tracker, retry, born), "last_policy_number": None}
        if number is None:
            dispatcher.utter_message(response="utter_policy_number_format")
            return {"policy_number": None}
        # Both in one message ("CI10000001, born 15/3/1980"): verify at once.
        if born is not None:
            return self._verify(dispatcher, tracker, number, born)
        return {"policy_number": number}

    def validate_date_of_birth(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:
            return {"date_of_birth": None}
        born = parse_date_of_birth(str(value))
        kept_year = tracker.get_slot("dob_year")
        if born is None and kept_year:  # "15 March" after "1975"
            born = with_year(str(value), int(kept_year))
        corrected = find_policy_number(str(value))
        number = corrected or tracker.get_slot("policy_number")
        if born is None:
            if corrected:  # "sorry, I mean policy CI…": replace it, ask the date again
                return {"policy_number": corrected, "date_of_birth": None}
            if (year := year_only(str(value))) is not None:
                # A year alone cannot verify: keep it, ask for the day and month.
                dispatcher.utter_message(response="utter_dob_need_full_date", dob_year=str(year))
                return {"date_of_birth": None, "dob_year": str(year)}
            dispatcher.utter_message(response="utter_dob_format")
            return {"date_of_birth": None}
        if not number:
            return {"date_of_birth": None}
        return self._verify(dispatcher, tracker, number, born)

    def _verify(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, number: str, born: Any
    ) -> dict[str, Any]:
        """Check the pair; the slots that end the form, or clear it for another try."""
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
        return {"date_of_birth": None, "policy_number": None, "last_policy_number": number}


class ActionAfterVerification(Action):
    """``action_after_verification``: locked → stop; verified → eligibility."""

    def name(self) -> str:
        return "action_after_verification"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        cleared = [
            SlotSet("policy_number", None),
            SlotSet("date_of_birth", None),
            SlotSet("last_policy_number", None),
            SlotSet("dob_year", None),
        ]
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
            told = tracker.get_slot("condition_text") == "received"  # in the request itself
            step = "action_screen_condition" if told else "condition_form"
            return [*events, FollowupAction(step)]
        # The refusal (plan_name and effective_date come from the slots) says why and offers the
        # nurse chat and the hotline; a yes to it is taken by the rules (data/rules/care.yml).
        return [*events, FollowupAction(f"utter_not_eligible_{reason}")]


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

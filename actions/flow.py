"""The second-opinion flow's slots and the step after verification, shared by its actions.

Steps: consent → verification → eligibility → condition → screening → case packet → summary →
case. Forms collect; these helpers decide the next step and pass it on with ``FollowupAction``.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet

from bot.eligibility import check
from bot.policies.directory import VerifiedPolicy

PACKET_SLOTS = (
    "diagnosis",
    "diagnosis_when",  # asked with the treatment so far, in one question
    "opinion_question",
    "call_language",
    "callback_number",
    "callback_time",
)
FLOW_SLOTS = (
    "consent_given",
    "policy_number",
    "date_of_birth",
    "last_policy_number",
    "dob_year",
    "verification",
    "verified_policy",
    "eligibility_reason",
    "plan_name",
    "effective_date",
    "policy_suffix",
    "condition_text",
    "condition_notes",
    "screening_category",
    "screening",
    "clarified",
    *PACKET_SLOTS,
    "summary_confirmed",
    "case_ref",
)


def said_in_passing(tracker: Tracker) -> dict[str, Any]:
    """What the customer said without being asked (often in the first message: "my mother", a
    plan's name), kept on every case, the nurse's too."""
    return {key: tracker.get_slot(slot)
            for key, slot in (("person", "patient"), ("plan_named", "plan"))
            if tracker.get_slot(slot)}


def policy_slots(policy: VerifiedPolicy) -> list[dict[str, Any]]:
    """Slots that remember the verified policy for later steps (never the date of birth)."""
    return [
        SlotSet("verification", "verified"),
        SlotSet(
            "verified_policy",
            {
                "number": policy.number,
                "plan_code": policy.plan_code,
                "status": policy.status,
                "effective_date": policy.effective_date.isoformat(),
                "customer_id": policy.customer_id,
            },
        ),
        SlotSet("policy_suffix", policy.number[-4:]),
    ]


def after_verification(policy: VerifiedPolicy) -> list[dict[str, Any]]:
    """Judge eligibility and hand on to the condition step or the explanation."""
    result = check(policy)
    return [
        *policy_slots(policy),
        SlotSet("eligibility_reason", result.reason),
        SlotSet("effective_date", policy.effective_date.isoformat()),
        FollowupAction("action_explain_eligibility"),
    ]

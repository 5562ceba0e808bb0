"""Is this verified policy's insured person eligible for the Second Medical Opinion service?

Eligible when the plan is one the leaflet names (``data/plans.yml``: ``eligible: true``), the policy
is in force, and today is on or after its effective date (the service starts on the effective date
of the named basic plan or rider). The person is the insured: verification matched the insured
person's date of birth. Reason codes are fixed: ``eligible``, ``plan_not_covered``,
``not_in_force``, ``not_yet_effective``, ``not_found``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.plans import catalogue
from bot.policies.directory import VerifiedPolicy

REASONS = ("eligible", "plan_not_covered", "not_in_force", "not_yet_effective", "not_found")


@dataclass(frozen=True)
class Eligibility:
    """The outcome and what the customer is told about it."""

    reason: str
    plan_code: str | None = None
    effective_date: date | None = None

    @property
    def eligible(self) -> bool:
        return self.reason == "eligible"

    def as_dict(self) -> dict[str, object]:
        """Plain form for slots and case packets."""
        return {
            "reason": self.reason,
            "eligible": self.eligible,
            "plan_code": self.plan_code,
            "effective_date": self.effective_date.isoformat() if self.effective_date else None,
        }


def check(policy: VerifiedPolicy | None, today: date | None = None) -> Eligibility:
    """Judge eligibility; the order of checks decides which single reason the customer hears."""
    today = today or date.today()
    if policy is None:
        return Eligibility("not_found")
    plan = catalogue().get(policy.plan_code)
    if plan is None or not plan.eligible:
        return Eligibility("plan_not_covered", policy.plan_code, policy.effective_date)
    if policy.status != "in_force":
        return Eligibility("not_in_force", policy.plan_code, policy.effective_date)
    if today < policy.effective_date:
        return Eligibility("not_yet_effective", policy.plan_code, policy.effective_date)
    return Eligibility("eligible", policy.plan_code, policy.effective_date)

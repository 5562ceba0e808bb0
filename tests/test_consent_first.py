"""Consent first: nothing about a customer's health is collected or stored before they agree to
the current consent wording. Fast: the actions run as Rasa runs them, on a fresh database.

- ``action_start_second_opinion`` sends a customer without a "yes" to *this* wording version (none
  on record, a "no", or a "yes" to older wording) to the consent form, and nothing is written;
- ``action_after_consent`` stores the answer with the wording version; a "no" stops there (no
  verification, no case), a "yes" goes on to verification;
- only a clear yes or no to the consent question fills ``consent_given``;
- in the training data, no rule or story starts a step that collects or stores health
  information: those steps run only as continuations inside the flow, which only the two actions
  above open. (Whole conversations: tests/test_care_flow_e2e.py, slow.)
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

from actions.consent import ActionAfterConsent, ActionStartSecondOpinion, ValidateConsentForm
from bot.cases.models import Case
from bot.consent import wording_version
from bot.db import read_connection
from bot.paths import DATA_DIR, ROOT
from bot.policies import directory
from bot.policies.models import ChannelIdentity, Consent, VerificationAttempt

WHO = "rest:consent-visitor"
REQUEST = "my mother has stage 2 breast cancer, how do we apply for a second opinion"
# The steps that collect health information or store it (the condition, the screening of it, the
# case packet, its summary, the case) and the ones that lead into them (verification, eligibility).
AFTER_CONSENT = ("verification_form", "action_after_verification", "action_explain_eligibility",
                 "condition_form", "action_screen_condition", "case_packet_form", "summary_form",
                 "action_submit_case")


@lru_cache(maxsize=1)
def domain() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def tracker(text: str, intent: str, slots: dict[str, Any] | None = None,
            active_loop: str | None = None, extracted: dict[str, Any] | None = None) -> Tracker:
    """The tracker an action gets; ``extracted``: slots Rasa set from the latest message (what
    a form's validation action is asked to validate)."""
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.95}, "entities": [],
              "parse_data": {"screening": {"category": "eligible"}}}
    events = [{"event": "user", "text": text, "parse_data": latest}]
    events += [{"event": "slot", "name": k, "value": v} for k, v in (extracted or {}).items()]
    return Tracker(WHO, {"language": "en", **(slots or {})}, latest, events, False, None,
                   {"name": active_loop} if active_loop else {}, "action_listen")


def run(action: Any, track: Tracker) -> tuple[list[dict[str, Any]], list[str]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, track, domain()))
    return events, [m.get("response") for m in dispatcher.messages]


def followups(events: list[dict[str, Any]]) -> list[str]:
    return [e["name"] for e in events if e.get("event") == "followup"]


def slot_value(events: list[dict[str, Any]], name: str) -> Any:
    return next((e["value"] for e in reversed(events)
                 if e.get("event") == "slot" and e.get("name") == name), None)


def rows(model: Any) -> int:
    with read_connection() as db:
        return db.execute(select(func.count()).select_from(model)).scalar_one()


def stored_consents() -> list[tuple[bool, str]]:
    with read_connection() as db:
        return [(bool(granted), version) for granted, version in db.execute(
            select(Consent.granted, Consent.wording_version).order_by(Consent.id))]


def nothing_about_health_stored() -> bool:
    return rows(Case) == 0 and rows(VerificationAttempt) == 0 and rows(ChannelIdentity) == 0


def test_a_new_customer_is_asked_for_consent_first_and_nothing_is_stored(seeded: str) -> None:
    events, said = run(ActionStartSecondOpinion(), tracker(REQUEST, "request_second_opinion"))
    assert followups(events) == ["consent_form"]
    assert not set(followups(events)) & set(AFTER_CONSENT)
    assert slot_value(events, "consent_given") is not True
    assert said == []  # nothing said for the flow yet: the consent form asks its question
    assert stored_consents() == [] and nothing_about_health_stored()


@pytest.mark.parametrize("on_record", ["a no", "a yes to older wording"])
def test_anything_but_a_yes_to_this_wording_asks_again(seeded: str, on_record: str) -> None:
    identity = directory.Identity("rest", WHO)
    earlier = datetime.utcnow() - timedelta(days=1)
    if on_record == "a no":
        directory.record_consent(identity, True, wording_version(), "en", earlier)
        directory.record_consent(identity, False, wording_version(), "en")  # changed their mind
    else:
        directory.record_consent(identity, True, wording_version() + "-before", "en", earlier)
    events, _ = run(ActionStartSecondOpinion(), tracker(REQUEST, "request_second_opinion"))
    assert followups(events) == ["consent_form"]
    assert nothing_about_health_stored()


def test_a_yes_to_this_wording_on_record_goes_straight_on(seeded: str) -> None:
    directory.record_consent(directory.Identity("rest", WHO), True, wording_version(), "en")
    events, _ = run(ActionStartSecondOpinion(), tracker(REQUEST, "request_second_opinion"))
    assert followups(events) == ["verification_form"]
    assert slot_value(events, "consent_given") is True


def test_a_no_stops_the_flow_and_is_stored_with_the_wording_version(seeded: str) -> None:
    events, said = run(ActionAfterConsent(),
                       tracker("no thanks", "deny", {"consent_given": False}))
    assert said == ["utter_consent_declined"]
    assert followups(events) == [] and not any(e.get("event") == "slot" for e in events)
    assert stored_consents() == [(False, wording_version())]
    assert nothing_about_health_stored()
    # The next request asks again: a "no" is never taken for a "yes".
    again, _ = run(ActionStartSecondOpinion(), tracker(REQUEST, "request_second_opinion"))
    assert followups(again) == ["consent_form"]


def test_a_yes_is_stored_then_verification_follows(seeded: str) -> None:
    events, _ = run(ActionAfterConsent(), tracker("yes", "affirm", {"consent_given": True}))
    assert stored_consents() == [(True, wording_version())]
    assert followups(events) == ["verification_form"]


def test_only_an_answer_to_the_question_fills_consent(seeded: str) -> None:
    # The "ok" that took the offer to check eligibility (and so started the form) is not consent
    # to what the question then explains.
    taken = tracker("ok", "affirm", {"consent_given": True, "requested_slot": None},
                    active_loop="consent_form", extracted={"consent_given": True})
    events, _ = run(ValidateConsentForm(), taken)
    assert [e for e in events if e.get("name") == "consent_given"] == [
        {"event": "slot", "timestamp": None, "name": "consent_given", "value": None}]
    # Asked, a yes fills it (what was refused above was the moment, not the word).
    answered = tracker("yes", "affirm", {"consent_given": True, "requested_slot": "consent_given"},
                       active_loop="consent_form", extracted={"consent_given": True})
    assert slot_value(run(ValidateConsentForm(), answered)[0], "consent_given") is True
    form = ValidateConsentForm()
    for value in ("yes", "ok", 1, "true", None):
        assert form.validate_consent_given(value, CollectingDispatcher(),
                                           tracker("x", "affirm"), domain()) == {
            "consent_given": None}, value
    assert form.validate_consent_given(True, CollectingDispatcher(), tracker("x", "affirm"),
                                       domain()) == {"consent_given": True}


def _training_data() -> list[tuple[str, dict[str, Any]]]:
    """(file, rule or story) of every rule and story the model is trained on."""
    found = []
    for path in sorted((DATA_DIR / "rules").glob("*.yml")) + sorted(
            (DATA_DIR / "stories").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in (data.get("rules") or []) + (data.get("stories") or []):
            found.append((path.name, item))
    return found


def test_no_rule_or_story_starts_a_step_past_consent() -> None:
    """Each step past consent appears only inside the flow: in a rule that runs while one of
    those steps' forms is active (its continuation). None opens one after a customer message."""
    checked = 0
    for file, item in _training_data():
        steps = item.get("steps") or []
        names = [s.get("action") or s.get("active_loop") for s in steps]
        if not set(names) & set(AFTER_CONSENT):
            continue
        checked += 1
        name = item.get("rule") or item.get("story")
        assert "rule" in item, f"{file}: story {name!r} reaches a step past consent"
        loops = {c.get("active_loop") for c in item.get("condition") or []}
        assert loops & set(AFTER_CONSENT), (
            f"{file}: rule {name!r} reaches a step past consent outside the flow")
        assert not any("intent" in s for s in steps), (
            f"{file}: rule {name!r} starts a step past consent on a customer message")
    assert checked >= 4  # the flow's own continuations are there to be checked

"""Custom actions, run as Rasa runs them: action.run(dispatcher, tracker, domain)."""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionHandleFallback, consecutive_misses
from actions.language import ValidateSlotMappings
from bot.language import detect

DOMAIN = {"slots": {"language": {"type": "categorical", "mappings": [{"type": "custom"}]}}}


def tracker(text: str, intent: str, language: str | None, events: list | None = None) -> Tracker:
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": [],
        "language_detection": detect(text).as_dict(),
    }
    return Tracker(
        "c1", {"language": language}, latest, events or [], False, None, {}, "action_listen"
    )


def run(action, track: Tracker) -> tuple[list, CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, track, DOMAIN))
    return events, dispatcher


@pytest.mark.parametrize(
    ("text", "intent", "previous", "expected"),
    [
        ("how long does the report take", "ask_report_time", None, "en"),
        ("報告幾耐有", "ask_report_time", "en", "yue"),
        ("用简体字", "switch_language", "yue", "zh-Hans"),
        ("please reply in English", "switch_language", "zh-Hans", "en"),
    ],
)
def test_language_slot_changes(text: str, intent: str, previous: str | None, expected: str) -> None:
    events, _ = run(ValidateSlotMappings(), tracker(text, intent, previous))
    assert {"event": "slot", "timestamp": None, "name": "language", "value": expected} in events


def test_language_slot_sticky_on_ok() -> None:
    events, _ = run(ValidateSlotMappings(), tracker("ok", "affirm", "yue"))
    assert not [e for e in events if e.get("name") == "language"]


def _user(intent: str) -> dict:
    return {"event": "user", "parse_data": {"intent": {"name": intent}}}


def test_consecutive_misses() -> None:
    assert consecutive_misses([_user("greet"), _user("nlu_fallback")]) == 1
    assert consecutive_misses([_user("nlu_fallback"), {"event": "bot"}, _user("nlu_fallback")]) == 2
    assert consecutive_misses([_user("nlu_fallback"), _user("greet")]) == 0


def test_fallback_asks_to_rephrase_then_offers_nurse() -> None:
    first = tracker("zzz", "nlu_fallback", "en", [_user("nlu_fallback")])
    _, dispatcher = run(ActionHandleFallback(), first)
    assert [m["response"] for m in dispatcher.messages] == ["utter_ask_rephrase"]
    second = tracker("zzz", "nlu_fallback", "en", [_user("nlu_fallback"), _user("nlu_fallback")])
    _, dispatcher = run(ActionHandleFallback(), second)
    assert [m["response"] for m in dispatcher.messages] == ["utter_offer_nurse"]


# ---- the care flow's steps (issue 16: nothing said is asked twice) -------------------------------

def flow_tracker(slots: dict, text: str = "", intent: str = "affirm",
                 events: list | None = None) -> Tracker:
    """A tracker in the care flow: ``slots`` set, ``text`` the latest message."""
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []}
    return Tracker("rest:c1", {"language": "en", **slots}, latest, events or [], False, None,
                   {}, "action_listen")


def test_a_description_naming_the_condition_fills_the_diagnosis() -> None:
    from actions.condition import ActionScreenCondition

    notes = ["Hi, my mother was just diagnosed with breast cancer. How do we apply?"]
    events, dispatcher = run(ActionScreenCondition(), flow_tracker({"condition_notes": notes}))
    assert [m["response"] for m in dispatcher.messages] == ["utter_screen_eligible"]
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert slots["diagnosis"] == "breast cancer"  # the packet does not ask it again
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "case_packet_form"}


def test_an_excluded_condition_is_refused_with_the_nurse_offer_in_the_refusal() -> None:
    from actions.condition import ActionScreenCondition

    notes = ["I keep getting a rash on my arms every few weeks"]
    events, dispatcher = run(ActionScreenCondition(), flow_tracker({"condition_notes": notes}))
    assert not dispatcher.messages  # the refusal is the follow-up action, so rules see it
    assert events[-1]["name"] == "utter_excluded_common_illness"


@pytest.mark.parametrize(("told", "step"), [("received", "action_screen_condition"),
                                             (None, "condition_form")])
def test_eligible_goes_to_the_screening_when_the_request_named_the_condition(
        told: str | None, step: str) -> None:
    from actions.verification import ActionExplainEligibility

    policy = {"plan_code": "CIMP", "number": "CI10000001"}
    slots = {"verified_policy": policy, "eligibility_reason": "eligible", "condition_text": told}
    events, dispatcher = run(ActionExplainEligibility(), flow_tracker(slots))
    assert [m["response"] for m in dispatcher.messages] == ["utter_eligible"]
    assert events[-1]["name"] == step


def test_not_eligible_is_the_refusal_response_itself() -> None:
    from actions.verification import ActionExplainEligibility

    slots = {"verified_policy": {"plan_code": "HSMP"}, "eligibility_reason": "plan_not_covered"}
    events, dispatcher = run(ActionExplainEligibility(), flow_tracker(slots))
    assert not dispatcher.messages
    assert events[-1]["name"] == "utter_not_eligible_plan_not_covered"


@pytest.mark.parametrize(("requested", "expected"), [("summary_confirmed", True), (None, None)])
def test_only_an_answer_to_the_summary_confirms_it(requested: str | None, expected: object) -> None:
    from actions.packet import ValidateSummaryForm

    tracker_ = flow_tracker({"requested_slot": requested}, "星期日都得")
    result = ValidateSummaryForm().validate_summary_confirmed(True, CollectingDispatcher(),
                                                              tracker_, DOMAIN)
    assert result == {"summary_confirmed": expected}


def test_who_and_which_plan_travel_with_every_case() -> None:
    from actions.flow import said_in_passing

    tracker_ = flow_tracker({"patient": "husband", "plan": None})
    assert said_in_passing(tracker_) == {"person": "husband"}


def test_a_year_of_birth_alone_is_kept_and_the_day_and_month_asked() -> None:
    from actions.verification import ValidateVerificationForm

    form = ValidateVerificationForm()
    slots = {"policy_number": "CI10000002", "requested_slot": "date_of_birth"}
    dispatcher = CollectingDispatcher()
    result = form.validate_date_of_birth("她是1975年出生的", dispatcher,
                                         flow_tracker(slots, "她是1975年出生的"), DOMAIN)
    assert result == {"date_of_birth": None, "dob_year": "1975"}
    assert [m["response"] for m in dispatcher.messages] == ["utter_dob_need_full_date"]


def test_a_new_call_back_number_at_the_summary_replaces_the_old_one() -> None:
    from actions.packet import ValidateSummaryForm

    text = "sorry, please call me on +852 6111 2222 instead"
    tracker_ = flow_tracker({"requested_slot": "summary_confirmed", "callback_number": "9123 4567"},
                            text, intent="out_of_scope")
    events, _ = run(ValidateSummaryForm(), tracker_)
    assert {"event": "slot", "timestamp": None, "name": "callback_number",
            "value": "+852 6111 2222"} in events
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    assert "summary_confirmed" in slots and slots["summary_confirmed"] is None


def _screened(text: str, intent: str) -> Tracker:
    from bot.screening import screen

    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": [],
              "screening": screen(text).as_dict()}
    return Tracker("rest:c1", {"language": "en"}, latest, [], False, None, {}, "action_listen")


def test_a_description_of_an_everyday_illness_is_refused_at_once() -> None:
    from actions.consent import ActionAcknowledgeCondition

    text = "had a fever and a sore throat for three days, the GP says it's viral"
    events, dispatcher = run(ActionAcknowledgeCondition(), _screened(text, "describe_condition"))
    assert not dispatcher.messages
    assert events[-1]["name"] == "utter_excluded_common_illness"  # no consent, no policy asked


def test_a_vague_description_gets_the_service_and_the_check_offered() -> None:
    from actions.consent import ActionAcknowledgeCondition

    text = "my mother has not been feeling well lately"
    events, dispatcher = run(ActionAcknowledgeCondition(), _screened(text, "describe_condition"))
    assert events == []
    assert [m["response"] for m in dispatcher.messages] == ["utter_describe_condition_ack"]

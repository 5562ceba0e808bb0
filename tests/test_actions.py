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

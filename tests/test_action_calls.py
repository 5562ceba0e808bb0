"""What the core sends to the action server: recent events only, and enough for each action."""

from __future__ import annotations

from rasa.core.actions.action import RemoteAction
from rasa.shared.core.constants import ACTION_VALIDATE_SLOT_MAPPINGS
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk import Tracker

from bot.dialogue import action_calls

DOMAIN = Domain.from_yaml("""
version: "3.1"
intents: [greet]
slots:
  language: {type: text, mappings: [{type: custom}]}
  plan: {type: text, mappings: [{type: custom}]}
actions: [action_validate_slot_mappings, action_default_fallback_counter]
""")


def _conversation(turns: int) -> DialogueStateTracker:
    tracker = DialogueStateTracker("c", DOMAIN.slots)
    tracker.update(ActionExecuted("action_listen"))
    for turn in range(turns):
        tracker.update(UserUttered(f"message {turn}", {"name": "greet", "confidence": 1.0}))
        tracker.update(SlotSet("plan", f"plan {turn}"))
        tracker.update(BotUttered(f"answer {turn}"))
        tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("the latest", {"name": "greet", "confidence": 1.0}))
    tracker.update(SlotSet("language", "en"))  # extracted from the latest message
    return tracker


def _body(action: str, tracker: DialogueStateTracker) -> dict:
    remote = RemoteAction(action, EndpointConfig("http://127.0.0.1:1/webhook"))
    return action_calls._action_call_format(remote, tracker, DOMAIN)


def test_other_actions_get_the_last_twelve_user_turns() -> None:
    events = _body("action_default_fallback_counter", _conversation(30))["tracker"]["events"]
    users = [e for e in events if e["event"] == "user"]
    assert len(users) == action_calls.SESSION_EVENTS
    assert users[-1]["text"] == "the latest" and events[0]["event"] == "user"


def test_slot_validation_gets_events_since_the_latest_message_and_sees_the_same() -> None:
    tracker = _conversation(30)
    body = _body(ACTION_VALIDATE_SLOT_MAPPINGS, tracker)
    events = body["tracker"]["events"]
    assert events[0]["event"] == "user" and events[0]["text"] == "the latest"
    assert len(events) == 2
    trimmed = Tracker.from_dict({**body["tracker"], "events": events})
    full = Tracker.from_dict({**body["tracker"],
                              "events": [e.as_dict() for e in tracker.events]})
    # What rasa_sdk's validation works from is the same either way.
    assert trimmed.slots_to_validate() == full.slots_to_validate() == {"language": "en"}
    assert trimmed.latest_message == full.latest_message
    assert trimmed.slots == full.slots

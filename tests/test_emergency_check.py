"""The screening's second net in the dialogue: "is it happening now?" with 999 / 120, and a "yes".

``bot.handoff.guard`` asks (after the assistant's own reply, for every conversation, never twice in
a row); ``bot.nlu.emergency_policy`` answers a "yes" as an emergency; ``action_emergency`` marks
the case's screening ``confirmed_now``. No model is needed: the policy is called directly on a
tracker, the guard on an agent stand-in with Rasa's own lock store, tracker and output channel.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.lock_store import InMemoryLockStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import responses
from bot.handoff import guard
from bot.nlu.emergency_policy import (
    ACTION_EMERGENCY,
    CHECK,
    EmergencyPolicy,
    asked_since_last_message,
    confirms_check,
)
from bot.screening import screen

DOMAIN = Domain.from_dict(
    {
        "intents": ["affirm", "deny", "describe_condition"],
        "actions": [ACTION_EMERGENCY],
        "responses": {CHECK: [{"text": "is it happening now?"}]},
    }
)
NET = "grandma is very pale and sweating right now"  # unclear, with signs of danger


def _user(text: str, intent: str) -> UserUttered:
    return UserUttered(text, {"name": intent, "confidence": 0.9},
                       parse_data={"screening": screen(text).as_dict()})


def _tracker(*events: Any) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("c1", [ActionExecuted(ACTION_LISTEN_NAME), *events])


def _checked(answer: UserUttered) -> DialogueStateTracker:
    return _tracker(
        _user(NET, "describe_condition"),
        BotUttered("an answer", metadata={"utter_action": "utter_ask_condition_text"}),
        BotUttered("is it happening now?", metadata={"response": CHECK, "guard": True}),
        ActionExecuted(ACTION_LISTEN_NAME),
        answer,
    )


def test_the_message_that_needs_the_check() -> None:
    result = screen(NET)
    assert result.category == "unclear" and result.ask_if_now


def test_a_yes_right_after_the_check_confirms_it() -> None:
    assert confirms_check(_checked(_user("yes", "affirm")))
    assert not confirms_check(_checked(_user("no", "deny")))


def test_a_yes_later_on_does_not() -> None:
    tracker = _checked(_user("ok", "describe_condition"))
    tracker.update(BotUttered("next question"))
    tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
    tracker.update(_user("yes", "affirm"))
    assert not confirms_check(tracker)
    assert not asked_since_last_message(tracker.events)


def _predict(tracker: DialogueStateTracker) -> str:
    context = SimpleNamespace(is_finetuning=False, node_name="emergency", model_id=None)
    policy = EmergencyPolicy({"priority": 7}, None, None, context)  # type: ignore[arg-type]
    prediction = policy.predict_action_probabilities(tracker, DOMAIN)
    best = max(range(len(prediction.probabilities)), key=prediction.probabilities.__getitem__)
    return DOMAIN.action_names_or_texts[best] if prediction.probabilities[best] else "none"


def test_the_policy_answers_a_yes_to_the_check_as_an_emergency() -> None:
    assert _predict(_checked(_user("yes", "affirm"))) == ACTION_EMERGENCY
    assert _predict(_checked(_user("no", "deny"))) == "none"
    assert _predict(_tracker(_user("yes", "affirm"))) == "none"  # no check was asked


class _Agent:
    """What the guard uses of Rasa's agent: its lock store and its processor's trackers."""

    def __init__(self, events: list[Any], language: str | None) -> None:
        self.lock_store = InMemoryLockStore()
        self.tracker = _tracker(*events)
        if language:
            self.tracker.update(SlotSet("language", language))
        self.saved = 0

        async def get_tracker(_: str) -> DialogueStateTracker:
            return self.tracker

        async def save_tracker(_: DialogueStateTracker) -> None:
            self.saved += 1

        self.processor = SimpleNamespace(get_tracker=get_tracker, save_tracker=save_tracker)


@pytest.fixture
def nobody_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guard.store, "active_case_for", lambda _: None)


@pytest.mark.parametrize("language", ["en", "yue", "zh-Hans"])
def test_the_guard_asks_with_999_and_120_after_the_reply(nobody_holds: None, language: str) -> None:
    agent = _Agent([_user(NET, "describe_condition")], language)
    channel = CollectingOutputChannel()
    sent = asyncio.run(guard._ask_if_happening_now(agent, UserMessage(NET, channel, "c1")))  # type: ignore[arg-type]
    assert sent == responses.text(CHECK, language)
    assert "999" in sent and "120" in sent
    assert [m["text"] for m in channel.messages] == [sent]
    last = agent.tracker.events[-1]
    assert isinstance(last, BotUttered) and last.metadata["response"] == CHECK
    assert agent.saved == 1


@pytest.mark.parametrize(
    "text",
    ["I want a second opinion on my lung cancer", "my dad is not breathing", "/affirm", ""],
)
def test_the_guard_does_not_ask_when_there_is_no_doubt(nobody_holds: None, text: str) -> None:
    agent = _Agent([_user(text or "x", "describe_condition")], "en")
    channel = CollectingOutputChannel()
    assert asyncio.run(guard._ask_if_happening_now(agent, UserMessage(text, channel, "c1"))) is None  # type: ignore[arg-type]
    assert channel.messages == [] and agent.saved == 0


def test_the_guard_does_not_ask_twice_in_a_row(nobody_holds: None) -> None:
    agent = _Agent(
        [
            _user(NET, "describe_condition"),
            BotUttered("is it happening now?", metadata={"response": CHECK, "guard": True}),
            ActionExecuted(ACTION_LISTEN_NAME),
            _user("she is still pale and sweating, now", "describe_condition"),
        ],
        "en",
    )
    channel = CollectingOutputChannel()
    message = UserMessage("she is still pale and sweating, now", channel, "c1")
    assert asyncio.run(guard._ask_if_happening_now(agent, message)) is None  # type: ignore[arg-type]
    assert channel.messages == []


def test_action_emergency_marks_a_confirmed_check(monkeypatch: pytest.MonkeyPatch) -> None:
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions import emergency

    opened: list[dict] = []
    monkeypatch.setattr(emergency.store, "open_case", lambda **kw: opened.append(kw))
    latest = {"text": "yes", "intent": {"name": "affirm"}, "screening": screen("yes").as_dict()}
    tracker = Tracker("c1", {"language": "en"}, latest, [], False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    asyncio.run(emergency.ActionEmergency().run(dispatcher, tracker, {}))
    assert [m["response"] for m in dispatcher.messages] == [
        "utter_emergency", "utter_emergency_alerted"
    ]
    assert opened[0]["priority"] == "urgent" and opened[0]["screening"]["confirmed_now"] is True

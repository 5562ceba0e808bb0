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


# ---- the action server's response check: same verdict and error as stock's jsonschema.validate


_STOCK_CHECK: list = []


def _stock_verdict(result: object) -> str | None:
    """Stock Rasa's check (``jsonschema.validate``: the best match among the errors): None when
    valid, else the message. The schema's own check, which ``validate`` repeats every time, is
    done once."""
    import jsonschema

    schema = RemoteAction.action_response_format_spec()
    if not _STOCK_CHECK:
        jsonschema.validators.validator_for(schema).check_schema(schema)
        _STOCK_CHECK.append(jsonschema.validators.validator_for(schema)(schema))
    error = jsonschema.exceptions.best_match(_STOCK_CHECK[0].iter_errors(result))
    return None if error is None else error.message


def _our_verdict(result: object) -> str | None:
    import jsonschema

    remote = RemoteAction("action_x", EndpointConfig("http://127.0.0.1:1/webhook"))
    try:
        assert action_calls._validate_action_result(remote, result) is True
    except jsonschema.ValidationError as error:
        return error.message.split(". Failed to validate Action server response")[0]
    return None


def _events_of_every_kind() -> list[dict]:
    from rasa.shared.core.events import (
        ActiveLoop,
        AllSlotsReset,
        ConversationPaused,
        ConversationResumed,
        FollowupAction,
        Restarted,
        SessionStarted,
        UserUtteranceReverted,
    )

    events = [UserUttered("hi", {"name": "greet", "confidence": 1.0}), SlotSet("plan", "x"),
              BotUttered("hello", {"buttons": [{"title": "a", "payload": "/a"}]}),
              ActionExecuted("action_listen"), ActiveLoop("form"), AllSlotsReset(),
              ConversationPaused(), ConversationResumed(), FollowupAction("utter_x"),
              Restarted(), SessionStarted(), UserUtteranceReverted()]
    return [event.as_dict() for event in events]


def test_response_check_gives_stock_verdicts_on_valid_and_broken_responses() -> None:
    good = _events_of_every_kind()
    responses: list[object] = [
        {"events": good, "responses": [{"text": "hi"}]}, {}, {"events": []},
        {"events": [{"event": "nonsense"}]}, {"events": [{"timestamp": 1}]},
        {"events": [{"event": "slot", "value": 1}]},  # a slot without its name
        {"events": [{"event": "slot", "name": 3, "value": 1}]},
        {"events": [{"event": 5}]}, {"events": ["slot"]}, {"events": "slot"},
        {"events": None}, {"responses": ["text"]}, [], "events", None,
        {"events": [{"event": "user", "parse_data": {"intent": "greet"}}]},
        {"events": [{"event": "bot", "timestamp": "noon"}]},
        {"events": [*good, {"event": "action", "confidence": "high"}]},
    ]
    for event in good:  # each kind with a wrong timestamp and with its name changed
        responses.append({"events": [{**event, "timestamp": "x"}]})
        responses.append({"events": [{**event, "event": event["event"] + "_"}]})
    verdicts = [(_our_verdict(r), _stock_verdict(r)) for r in responses]
    assert [ours for ours, _ in verdicts] == [stock for _, stock in verdicts]
    assert sum(stock is None for _, stock in verdicts) == 3  # the rest are refused


def test_response_check_matches_stock_on_generated_events() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    names = st.sampled_from([e["event"] for e in _events_of_every_kind()] + ["other", ""])
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                        st.text(max_size=5))
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)
    fields = st.sampled_from(["name", "value", "text", "timestamp", "metadata", "parse_data",
                              "policy", "confidence", "entities", "data", "input_channel"])
    event = st.builds(lambda name, extra: {"event": name, **extra}, names,
                      st.dictionaries(fields, values, max_size=4))
    response = st.fixed_dictionaries({"events": st.lists(event, max_size=4)})

    @settings(max_examples=300, deadline=None, database=None)
    @given(response)
    def same(result: dict) -> None:
        assert _our_verdict(result) == _stock_verdict(result)

    same()


# ---- the one deliberate difference from stock: the events window -------------------------------
# Stock Rasa sends every event; we send the last SESSION_EVENTS user turns. That is safe only while
# nothing on the action server reads further back. Who reads ``tracker.events`` is listed here;
# each reader is run on trimmed and on stock (full) requests and must answer the same.

# Tracker members that read the event list (rasa_sdk/interfaces.py); ``latest_message``, ``slots``,
# ``active_loop`` and ``latest_action_name`` come from the state, sent in full.
EVENT_READERS = {"events", "applied_events", "get_last_event_for", "last_executed_action_has",
                 "events_after_latest_restart", "idx_after_latest_restart",
                 "get_latest_input_channel", "slots_to_validate"}
# (file, function) of every read, checked below; a new one fails the inventory test until it is.
CHECKED_READS = {
    ("actions/fallback.py", "ActionHandleFallback.run"),  # consecutive misses, needs 2
    ("actions/consent.py", "_recent_user_messages"),  # the latest RECENT_MESSAGES (2)
    ("rasa_sdk/forms.py", "ValidationAction.get_validation_events"),  # slots_to_validate
}


def _event_reads(path, shown: str) -> set[tuple[str, str]]:  # noqa: ANN001
    """(file, Class.function) of each ``<tracker>.<reader>`` in a Python file."""
    import ast

    found: set[tuple[str, str]] = set()

    def visit(node: ast.AST, scope: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, f"{scope}.{child.name}" if scope else child.name)
                continue
            if (isinstance(child, ast.Attribute) and child.attr in EVENT_READERS
                    and isinstance(child.value, ast.Name) and child.value.id == "tracker"):
                found.add((shown, scope))
            visit(child, scope)

    visit(ast.parse(path.read_text(encoding="utf-8")), "")
    return found


def test_every_reader_of_past_events_on_the_action_server_is_known() -> None:
    from pathlib import Path

    import rasa_sdk

    root = Path(__file__).resolve().parent.parent
    sdk = Path(rasa_sdk.__file__).parent
    reads: set[tuple[str, str]] = set()
    for path in sorted((root / "actions").rglob("*.py")):
        reads |= _event_reads(path, path.relative_to(root).as_posix())
    for path in sorted(sdk.rglob("*.py")):
        if path.name != "interfaces.py":  # where the readers are defined
            reads |= _event_reads(path, "rasa_sdk/" + path.relative_to(sdk).as_posix())
    assert reads == CHECKED_READS


def _generated_conversation(turns: list[tuple[str, str | None, int, bool]]
                            ) -> DialogueStateTracker:
    """A tracker from (intent, screening category, slots set, bot answered) per user turn."""
    tracker = DialogueStateTracker("c", DOMAIN.slots)
    tracker.update(ActionExecuted("action_listen"))
    for number, (intent, category, slots, answered) in enumerate(turns):
        parse = {"intent": {"name": intent, "confidence": 0.9}, "entities": [],
                 "text": f"message {number}"}
        if category:
            parse["screening"] = {"category": category}
        tracker.update(UserUttered(f"message {number}", parse["intent"], parse_data=parse))
        for slot in range(slots):
            tracker.update(SlotSet("plan", f"plan {number}.{slot}"))
        if answered:
            tracker.update(ActionExecuted("action_handle_fallback"))
            tracker.update(BotUttered(f"answer {number}"))
        tracker.update(ActionExecuted("action_listen"))
    return tracker


def test_actions_read_the_same_from_trimmed_and_from_stock_requests() -> None:
    """For conversations longer than the window, what each reader sees is what it would see in
    stock Rasa's request; everything else in the request is stock's."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from actions.consent import RECENT_MESSAGES, _recent_user_messages
    from actions.fallback import MISSES_BEFORE_NURSE, consecutive_misses

    turn = st.tuples(st.sampled_from(["greet", "nlu_fallback"]),
                     st.sampled_from([None, "eligible", "unclear", "emergency"]),
                     st.integers(0, 2), st.booleans())
    windows_used: list[bool] = []

    @settings(max_examples=150, deadline=None, database=None)
    @given(st.lists(turn, min_size=1, max_size=3 * action_calls.SESSION_EVENTS))
    def same(turns: list) -> None:
        tracker = _generated_conversation(turns)
        for action in ("action_handle_fallback", ACTION_VALIDATE_SLOT_MAPPINGS):
            remote = RemoteAction(action, EndpointConfig("http://127.0.0.1:1/webhook"))
            ours = action_calls._action_call_format(remote, tracker, DOMAIN)
            stock = action_calls._STOCK_CALL_FORMAT(remote, tracker, DOMAIN)
            events, full = ours["tracker"].pop("events"), stock["tracker"].pop("events")
            assert full[len(full) - len(events):] == events  # the newest, unchanged
            windows_used.append(len(events) < len(full))
            assert ours["tracker"] == stock["tracker"]
            stock_domain = {k: v for k, v in stock.pop("domain").items() if k != "responses"}
            assert ours.pop("domain") == stock_domain
            assert ours == stock
            trimmed = Tracker.from_dict({**ours["tracker"], "sender_id": "c", "events": events})
            whole = Tracker.from_dict({**stock["tracker"], "sender_id": "c", "events": full})
            assert trimmed.slots_to_validate() == whole.slots_to_validate()
            if action == "action_handle_fallback":
                assert ((consecutive_misses(trimmed.events) >= MISSES_BEFORE_NURSE)
                        == (consecutive_misses(whole.events) >= MISSES_BEFORE_NURSE))
                assert (_recent_user_messages(trimmed, RECENT_MESSAGES)
                        == _recent_user_messages(whole, RECENT_MESSAGES))

    same()
    assert sum(windows_used) > 50  # the window really cut most of these conversations

"""Cheaper calls to the action server: the same checks as stock Rasa, and the same request but
for one deliberate difference, the events it carries (the last bullet).

- Stock Rasa checks each action server response with ``jsonschema.validate``, which first
  re-validates the *schema* itself: measured here at about two thirds of a message's time in the
  core. The validator is now built once and reused; responses are checked exactly as before.
  Each event of a response must match exactly one of the schema's 24 event kinds (``oneOf``),
  and jsonschema tries all 24 for every event: a twentieth of the core's time. Every kind fixes
  the ``event`` name (``const``) and no two share one, so an event matches exactly one kind if
  and only if it matches the kind its name picks: that one is checked. A response that fails is
  checked again with the whole schema, so the error raised is stock's.
- ``domain.as_dict()`` was rebuilt for every call; the domain does not change while a model is
  loaded, so it is built once per domain, and without its responses (every reply in three
  languages, the bulk of it): actions name responses, the core renders them.
- Slot validation after every message rebuilt the tracker by replaying the conversation; it now
  validates a copy with the extracted slots applied (same state).
- **The difference from stock:** the request carries the conversation's events since the last
  ``SESSION_EVENTS`` (12) user messages, where stock sends all of them, so a 200-turn chat does
  not post megabytes per action; the slot-mapping validation that runs after every message gets
  the events since the latest user message. Slots, the latest message, the active form and the
  latest action are sent in full, as stock. The actions return what they would under stock
  because none reads further back: of ``tracker.events``, our fallback counts the latest misses
  in a row (it needs ``MISSES_BEFORE_NURSE``, 2), consent reads the latest ``RECENT_MESSAGES``
  (2), and rasa_sdk reads only the slot events at the end (``slots_to_validate``, in its
  validation actions). ``tests/test_action_calls.py`` holds both: each reader gives the same
  answer on trimmed and on full events, and a new reader of ``tracker.events`` fails it until it
  is checked; ``tests/test_dialogue_engine.py`` plays a conversation longer than the window with
  and without these replacements and gets the same replies and events.
"""

from __future__ import annotations

import itertools
from typing import Any

from rasa.core.actions.action import ActionExtractSlots, RemoteAction
from rasa.shared.core.domain import Domain

SESSION_EVENTS = 12  # user turns of events sent with each action call

_STOCK_CALL_FORMAT = RemoteAction._action_call_format
_STOCK_VALIDATION = ActionExtractSlots._execute_validation_action
_validator: Any = None


class _ResponseCheck:
    """The action response schema split at its ``oneOf`` on the event name (see above)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        from jsonschema import validators

        build = validators.validator_for(schema)
        self.whole = build(schema)
        events = schema["properties"]["events"]
        item = dict(events["items"])
        kinds = item.pop("oneOf")
        self.outer = build({**schema, "properties": {**schema["properties"],
                                                     "events": {**events, "items": {}}}})
        self.item = build(item)
        names = [kind["properties"]["event"]["const"] for kind in kinds]
        if len(set(names)) != len(names):  # a later Rasa with shared names: check it all
            raise ValueError("event kinds share a name")
        self.kinds = {name: build(kind) for name, kind in zip(names, kinds, strict=True)}

    def is_valid(self, result: Any) -> bool:
        """Whether ``result`` is valid under the whole schema."""
        if not self.outer.is_valid(result):
            return False
        for event in result.get("events") or []:
            if not self.item.is_valid(event):
                return False
            kind = self.kinds.get(event["event"])
            if kind is None or not kind.is_valid(event):
                return False
        return True


def _response_check() -> Any:
    global _validator
    if _validator is None:
        schema = RemoteAction.action_response_format_spec()
        try:
            _validator = _ResponseCheck(schema)
        except (KeyError, TypeError, ValueError):  # not the shape we know: the whole schema
            from jsonschema import validators

            _validator = validators.validator_for(schema)(schema)
    return _validator


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """Stock check, compiled once and split by event kind (same verdict, same error)."""
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    check = _response_check()
    if check.is_valid(result):
        return True
    # The error stock's ``jsonschema.validate`` raises: the best match among all errors.
    e = best_match(getattr(check, "whole", check).iter_errors(result))
    if e is None:  # cannot happen (the split schema is the whole one): trust the whole schema
        return True
    e.message += (
        ". Failed to validate Action server response from API, make sure your response "
        f"from the Action endpoint is valid. For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise e


def _recent_start(events: list[Any], user_turns: int = SESSION_EVENTS) -> int:
    """Index of the ``user_turns``-th last user message (0 if there are fewer)."""
    seen = 0
    for index in range(len(events) - 1, -1, -1):
        if events[index].type_name == "user":
            seen += 1
            if seen == user_turns:
                return index
    return 0


def _action_call_format(self: RemoteAction, tracker: Any, domain: Domain) -> dict[str, Any]:
    """Stock request body, with only recent events and the domain built once."""
    import rasa
    from rasa.shared.core.constants import ACTION_VALIDATE_SLOT_MAPPINGS
    from rasa.shared.core.trackers import EventVerbosity

    events = list(tracker.events)
    state = tracker.current_state(EventVerbosity.NONE)
    # The global slot-mapping validation runs after every message and looks no further back
    # than the latest user message (rasa_sdk's ``slots_to_validate``; our language decision
    # reads the latest message and the slots): it gets the events from there on.
    turns = 1 if self._name == ACTION_VALIDATE_SLOT_MAPPINGS else SESSION_EVENTS
    state["events"] = [event.as_dict() for event in events[_recent_start(events, turns):]]
    result = {"next_action": self._name, "sender_id": tracker.sender_id, "tracker": state,
              "version": rasa.__version__}
    if (not self._is_selective_domain_enabled()
            or domain.does_custom_action_explicitly_need_domain(self.name())):
        result["domain"] = _domain_dict(domain)
    return result


def _domain_dict(domain: Domain) -> dict[str, Any]:
    """``domain.as_dict()`` without responses, built once per loaded domain (sent read-only)."""
    cached = domain.__dict__.get("_smo_as_dict")
    if cached is None:
        cached = {key: value for key, value in domain.as_dict().items() if key != "responses"}
        domain.__dict__["_smo_as_dict"] = cached
    return cached


def _was_restarted(tracker: Any) -> bool:
    """Whether the conversation holds a ``Restarted`` event (scanned once per new event)."""
    from rasa.shared.core.events import Restarted

    scanned, found = tracker.__dict__.get("_smo_restarted", (0, False))
    events = tracker.events
    if scanned > len(events):
        scanned, found = 0, False
    if not found:
        found = any(isinstance(event, Restarted)
                    for event in itertools.islice(events, scanned, None))
    tracker.__dict__["_smo_restarted"] = (len(events), found)
    return found


async def _execute_validation_action(self: Any, extraction_events: list[Any], output_channel: Any,
                                     nlg: Any, tracker: Any, domain: Domain) -> list[Any]:
    """Stock ``ActionExtractSlots._execute_validation_action`` with a tracker *copy* plus the
    extracted slots, instead of a tracker rebuilt by replaying the whole conversation (the same
    state; a conversation that was restarted takes the stock path, which drops what came before).
    """
    from rasa.shared.core.constants import ACTION_VALIDATE_SLOT_MAPPINGS
    from rasa.shared.core.events import SlotSet

    if ACTION_VALIDATE_SLOT_MAPPINGS not in domain.user_actions or _was_restarted(tracker):
        return await _STOCK_VALIDATION(self, extraction_events, output_channel, nlg, tracker,
                                       domain)
    slot_events = [event for event in extraction_events if isinstance(event, SlotSet)]
    candidate = tracker.copy()
    for event in slot_events:
        candidate.update(event)
    validate_events = await self._run_custom_action(
        ACTION_VALIDATE_SLOT_MAPPINGS, output_channel, nlg, candidate, domain)
    validated = {event.key for event in validate_events if isinstance(event, SlotSet)}
    return validate_events + [event for event in slot_events if event.key not in validated]

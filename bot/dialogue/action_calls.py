"""Cheaper calls to the action server, with the same requests and checks as stock Rasa.

- Stock Rasa checks each action server response with ``jsonschema.validate``, which first
  re-validates the *schema* itself: measured here at about two thirds of a message's time in the
  core. The validator is now built once and reused; responses are checked exactly as before.
- ``domain.as_dict()`` was rebuilt for every call; the domain does not change while a model is
  loaded, so it is built once per domain, and without its responses (every reply in three
  languages, the bulk of it): actions name responses, the core renders them.
- Slot validation after every message rebuilt the tracker by replaying the conversation; it now
  validates a copy with the extracted slots applied (same state).
- The request carries the conversation's events since the last ``SESSION_EVENTS`` user messages
  instead of all of them, so a 200-turn chat does not post megabytes per action; the slot-mapping
  validation that runs after every message gets the events since the latest user message (all
  that rasa_sdk's ``slots_to_validate`` and our language decision look at). Slots,
  the latest message, the active form and the latest action are sent in full, as stock. Our
  actions read only recent events (the fallback counts the last few misses; forms look back to
  the last user message); the end-to-end care-flow tests run every action on trimmed requests.
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


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """Stock check, compiled once (same schema, same error message)."""
    global _validator
    from jsonschema import ValidationError, validators
    from rasa.shared.constants import DOCS_BASE_URL

    if _validator is None:
        schema = RemoteAction.action_response_format_spec()
        _validator = validators.validator_for(schema)(schema)
    try:
        _validator.validate(result)
    except ValidationError as e:
        e.message += (
            ". Failed to validate Action server response from API, make sure your response "
            f"from the Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise e
    return True


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

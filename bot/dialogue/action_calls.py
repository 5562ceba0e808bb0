"""Cheaper calls to the action server, with the same requests and checks as stock Rasa.

- Stock Rasa checks each action server response with ``jsonschema.validate``, which first
  re-validates the *schema* itself: measured here at about two thirds of a message's time in the
  core. The validator is now built once and reused; responses are checked exactly as before.
- ``domain.as_dict()`` (every response in three languages) was rebuilt for every call; the domain
  does not change while a model is loaded, so it is built once per domain.
- The request carries the conversation's events since the last ``SESSION_EVENTS`` user messages
  instead of all of them, so a 200-turn chat does not post megabytes per action. Slots,
  the latest message, the active form and the latest action are sent in full, as stock. Our
  actions read only recent events (the fallback counts the last few misses; forms look back to
  the last user message); ``tests/test_action_calls.py`` holds them to that.
"""

from __future__ import annotations

from typing import Any

from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain

SESSION_EVENTS = 12  # user turns of events sent with each action call

_STOCK_CALL_FORMAT = RemoteAction._action_call_format
_validator: Any = None
_installed = False


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
    from rasa.shared.core.trackers import EventVerbosity

    events = list(tracker.events)
    state = tracker.current_state(EventVerbosity.NONE)
    state["events"] = [event.as_dict() for event in events[_recent_start(events):]]
    result = {"next_action": self._name, "sender_id": tracker.sender_id, "tracker": state,
              "version": rasa.__version__}
    if (not self._is_selective_domain_enabled()
            or domain.does_custom_action_explicitly_need_domain(self.name())):
        result["domain"] = _domain_dict(domain)
    return result


def _domain_dict(domain: Domain) -> dict[str, Any]:
    """``domain.as_dict()`` built once per loaded domain (sent read-only)."""
    cached = domain.__dict__.get("_smo_as_dict")
    if cached is None:
        cached = domain.as_dict()
        domain.__dict__["_smo_as_dict"] = cached
    return cached


def install() -> None:
    """Patch ``RemoteAction`` (idempotent); the stock method stays as ``_STOCK_CALL_FORMAT``."""
    global _installed
    if _installed:
        return
    RemoteAction._validate_action_result = _validate_action_result
    RemoteAction._action_call_format = _action_call_format
    _installed = True

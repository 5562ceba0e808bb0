"""How our core runs Rasa's dialogue engine faster than stock, with the same results.

Written against Rasa 3.6.21 line by line (:data:`RASA_VERSION`; about 25 private Rasa internals):
:func:`install` refuses any other version (:func:`check_rasa_version`) rather than patch code it
has not read. ``SMO_STOCK_RASA=true`` runs Rasa as shipped instead (no replacement, Rasa's own SQL
tracker store and action endpoint): to rule the replacements out when something looks wrong, and
the way to run a newer Rasa while they are ported. ``tests/test_dialogue_engine.py`` plays its
conversations both ways and compares every replaced function with stock on every call.

One deliberate difference: an action call carries only the events of the last
:data:`~bot.dialogue.action_calls.SESSION_EVENTS` (12) user turns, stock all of them (see
:mod:`bot.dialogue.action_calls`). Our actions and rasa_sdk read no further back (tested in
``tests/test_action_calls.py``), so they return what they would return under stock.

Upgrading Rasa ("Upgrading Rasa" in ``docs/operations.md``): run the new version with
``SMO_STOCK_RASA=true`` first; port the replacements below one by one against its code, set
:data:`RASA_VERSION`, and run ``tests/test_dialogue_engine.py`` before dropping the setting.

- :mod:`bot.dialogue.tracker_store`: the SQL tracker store keeps current conversations in memory.
- :mod:`bot.dialogue.history`: applied events and featurised states extended per new event.
- :mod:`bot.dialogue.tracker_copy`: tracker copies without replaying the conversation.
- :mod:`bot.dialogue.debug_text`: no debug text built when debug logging is off.
- :mod:`bot.dialogue.rule_matching`: rule lookup stops past the longest rule; feature keys
  from kept JSON.
- :mod:`bot.dialogue.action_calls`: action server calls validated with a compiled schema and
  carrying recent events only (the difference above).
- :mod:`bot.dialogue.action_endpoint`: one kept HTTP session to the action server.
- :mod:`bot.dialogue.graph_runner`: the prediction graph run in order without dask.
- :mod:`bot.dialogue.event_types`: event classes found by type name once.
- :mod:`bot.dialogue.model_inference`: the intent classifier's traced graph called directly.
- :mod:`bot.dialogue.slot_copy`: slots copied without ``copy.copy``'s generic protocol.
- :mod:`bot.dialogue.prediction_states`: a policy's states post-processed only where they can
  change, not over the whole history.

:func:`install` applies the replacements through :mod:`bot.dialogue.patching` (which can put
the stock methods back); the tracker store is chosen in the endpoints.
"""

from __future__ import annotations

RASA_VERSION = "3.6.21"  # the Rasa whose code these replacements were written against


class RasaVersionError(RuntimeError):
    """The installed Rasa is not the one the replacements were written for (the launcher and the
    core report it as a configuration error and stop)."""


def check_rasa_version(installed: str | None = None) -> None:
    """Refuse (:class:`RasaVersionError`, saying what to do) unless ``installed`` (default: the
    installed distribution's version, read without importing Rasa) is :data:`RASA_VERSION`."""
    if installed is None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            installed = version("rasa")
        except PackageNotFoundError:
            installed = "none"
    if installed != RASA_VERSION:
        raise RasaVersionError(
            f"Rasa {installed} is installed, but the dialogue-engine replacements (bot/dialogue/) "
            f"were written for Rasa {RASA_VERSION} and patch its private code. Install "
            f"rasa=={RASA_VERSION} (the pin in pyproject.toml and constraints.txt; `make venv`), "
            "or set SMO_STOCK_RASA=true to run Rasa as shipped, without them, while they are "
            "ported (see 'Upgrading Rasa' in docs/operations.md)")


def install() -> None:
    """Apply the dialogue-engine replacements (idempotent). Called by the core before loading;
    refuses a Rasa other than :data:`RASA_VERSION`."""
    check_rasa_version()
    from rasa.core.actions.action import ActionExtractSlots, RemoteAction
    from rasa.core.featurizers.tracker_featurizers import (
        MaxHistoryTrackerFeaturizer,
        TrackerFeaturizer,
    )
    from rasa.core.policies.policy import Policy
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import Event
    from rasa.shared.core.slots import Slot
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.tensorflow.models import RasaModel

    from bot.dialogue import (
        action_calls,
        debug_text,
        event_types,
        graph_runner,
        history,
        model_inference,
        prediction_states,
        rule_matching,
        slot_copy,
        tracker_copy,
    )
    from bot.dialogue.patching import replace

    replace(Policy, "format_tracker_states", staticmethod(debug_text.format_tracker_states))
    replace(RulePolicy, "_get_possible_keys", rule_matching._get_possible_keys)
    replace(RulePolicy, "_create_feature_key", rule_matching._create_feature_key)
    replace(DialogueStateTracker, "applied_events", history.applied_events)
    replace(Domain, "states_for_tracker_history", history.states_for_tracker_history)
    replace(DialogueStateTracker, "copy", tracker_copy.copy)
    replace(RemoteAction, "_validate_action_result", action_calls._validate_action_result)
    replace(RemoteAction, "_action_call_format", action_calls._action_call_format)
    replace(ActionExtractSlots, "_execute_validation_action",
            action_calls._execute_validation_action)
    replace(DaskGraphRunner, "run", graph_runner.run)
    replace(Event, "resolve_by_type", staticmethod(event_types.resolve_by_type))
    replace(RasaModel, "_rasa_predict", model_inference._rasa_predict)
    replace(MaxHistoryTrackerFeaturizer, "prediction_states", prediction_states.prediction_states)
    replace(TrackerFeaturizer, "_remove_user_text_if_intent",
            staticmethod(prediction_states.remove_user_text_if_intent))
    # Only when no slot class copies itself specially (a later Rasa might): checked here.
    if all(slot_copy.is_plain(cls) for cls in _subclasses(Slot)):
        replace(Slot, "__copy__", slot_copy.copy_slot)


def _subclasses(cls: type) -> list[type]:
    """``cls`` and every class derived from it that is imported now."""
    found = [cls]
    for sub in cls.__subclasses__():
        found += _subclasses(sub)
    return found

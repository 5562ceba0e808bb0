"""A policy's prediction states post-processed only where they can change.

``MaxHistoryTrackerFeaturizer.prediction_states`` (MemoizationPolicy's, with ``max_history``
4, and RulePolicy's, with none) takes the states of the whole conversation, drops the
``action_unlikely_intent`` turns from all of them before keeping the last ``max_history``, and
then removes the user text from every state that also has an intent. Each prediction walked the
whole history that way, three predictions a message: measured in process, a message at turn 200
took 1.32× as long as at turn 10 (10.8 → 14.2 ms).

- The unlikely-intent filter walks back from the newest state until it has ``max_history``
  states: the same states, in the same order, that filtering all and slicing keeps.
- User text is removed as stock removes it, except from the states the history cache
  (:mod:`bot.dialogue.history`) checked when it made them and vouches hold no text beside an
  intent (so removing would do nothing); the list must still be the one it returned.

``tests/test_dialogue_engine.py`` compares both with stock on every call.
"""

from __future__ import annotations

import itertools
from typing import Any

from rasa.core.featurizers.tracker_featurizers import (
    MaxHistoryTrackerFeaturizer,
    TrackerFeaturizer,
    _is_prev_action_unlikely_intent_in_state,
)

from bot.dialogue.history import CheckedStates, has_text_and_intent

_STOCK_PREDICTION_STATES = MaxHistoryTrackerFeaturizer.prediction_states
_STOCK_REMOVE_TEXT = TrackerFeaturizer.__dict__["_remove_user_text_if_intent"]  # staticmethod
_STOCK_WITHOUT_UNLIKELY = TrackerFeaturizer.__dict__[
    "_remove_action_unlikely_intent_from_states"]


def without_unlikely_intent(states: list[dict], keep: int | None) -> list[dict]:
    """The last ``keep`` states that are not ``action_unlikely_intent`` turns (all if ``keep``
    is None or 0, as stock's filter-then-slice gives)."""
    if not keep:
        return _STOCK_WITHOUT_UNLIKELY.__func__(states)
    kept: list[dict] = []
    for state in reversed(states):
        if not _is_prev_action_unlikely_intent_in_state(state):
            kept.append(state)
            if len(kept) == keep:
                break
    kept.reverse()
    return kept


def prediction_states(
    self: MaxHistoryTrackerFeaturizer,
    trackers: list[Any],
    domain: Any,
    use_text_for_last_user_input: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: dict[str, Any] | None = None,
    ignore_action_unlikely_intent: bool = False,
) -> list[list[dict]]:
    """Stock ``MaxHistoryTrackerFeaturizer.prediction_states``, step for step, with the
    unlikely-intent filter stopping once it has the states the slice keeps."""
    trackers_as_states = [
        self._create_states(tracker, domain, ignore_rule_only_turns=ignore_rule_only_turns,
                            rule_only_data=rule_only_data)
        for tracker in trackers
    ]
    if ignore_action_unlikely_intent:
        trackers_as_states = [without_unlikely_intent(states, self.max_history)
                              for states in trackers_as_states]
    trackers_as_states = [self.slice_state_history(states, self.max_history)
                          for states in trackers_as_states]
    self._choose_last_user_input(trackers_as_states, use_text_for_last_user_input)
    return trackers_as_states


def remove_user_text_if_intent(trackers_as_states: list[list[dict]]) -> None:
    """Stock ``_remove_user_text_if_intent`` (in place), skipping the states the history
    vouches for."""
    for states in trackers_as_states:
        start = states.clean_prefix() if isinstance(states, CheckedStates) else 0
        for state in itertools.islice(states, start, None):
            if has_text_and_intent(state):
                del state["user"]["text"]

"""Dialogue history computed once per event instead of once per prediction.

Every policy prediction asks the tracker for ``applied_events()`` and the domain for the
featurised ``states_for_tracker_history``; stock Rasa recomputes both from the first event each
time, several times per message, so a message's cost grows with the length of the conversation
(measured here: 70 ms at turn 10, 270 ms at turn 100). Conversations only ever *append* events,
so both are kept per tracker and extended with the new events. The result is the same list
stock Rasa computes; whenever the shortcut's assumption does not hold (a tracker that was not
extended but changed, or an event that changes how earlier events are read: a new form name for
``applied_events``), it falls back to the stock computation.

:func:`bot.dialogue.install` puts both in place before the core loads the model. The tests in
``tests/test_dialogue_engine.py`` compare both against stock Rasa on real conversations.
"""

from __future__ import annotations

import itertools
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, Event
from rasa.shared.core.trackers import DialogueStateTracker

_STOCK_APPLIED = DialogueStateTracker.applied_events
_STOCK_STATES = Domain.states_for_tracker_history


# --------------------------------------------------------------------------- applied events
@dataclass
class _Applied:
    """``applied_events`` of a tracker's first ``seen`` events (the last of them ``last``)."""

    seen: int
    last: Event | None
    loop_names: set[str]
    applied: list[Event]


def _loop_names(events: Any) -> set[str]:
    return {e.name for e in events if isinstance(e, ActiveLoop) and e.name}


def applied_events(self: DialogueStateTracker) -> list[Event]:
    """Stock ``applied_events``, extended incrementally over appended events."""
    events = self.events
    count = len(events)
    cached: _Applied | None = self.__dict__.get("_smo_applied")
    if cached is not None and count >= cached.seen and cached.seen > 0 \
            and events[cached.seen - 1] is cached.last:
        new = list(itertools.islice(events, cached.seen, None))
        if _loop_names(new) <= cached.loop_names:  # no new form: earlier events read the same
            _apply(self, new, cached.loop_names, cached.applied)
            cached.seen, cached.last = count, events[-1] if count else None
            return list(cached.applied)
    applied = _STOCK_APPLIED(self)
    self.__dict__["_smo_applied"] = _Applied(count, events[-1] if count else None,
                                             _loop_names(events), list(applied))
    return applied


def _apply(tracker: DialogueStateTracker, new: list[Event], loop_names: set[str],
           applied: list[Event]) -> None:
    """The body of stock ``applied_events``' loop, over the new events only."""
    from rasa.shared.core.events import (
        ActionReverted,
        Restarted,
        SessionStarted,
        UserUtteranceReverted,
        UserUttered,
    )

    for event in new:
        if isinstance(event, (Restarted, SessionStarted)):
            applied.clear()
        elif isinstance(event, ActionReverted):
            tracker._undo_till_previous(ActionExecuted, applied)
        elif isinstance(event, UserUtteranceReverted):
            tracker._undo_till_previous(UserUttered, applied)
            tracker._undo_till_previous(ActionExecuted, applied)
        elif (
            isinstance(event, ActionExecuted)
            and event.action_name in loop_names
            and not tracker._first_loop_execution_or_unhappy_path(event.action_name, applied)
        ):
            tracker._undo_till_previous_loop_execution(event.action_name, applied)
        else:
            applied.append(event)


# ---------------------------------------------------------------------------------- states
@dataclass
class _States:
    """Where the stock states loop stood after the events in ``events``."""

    events: list[Event]
    replay: DialogueStateTracker
    states: list[dict] = field(default_factory=list)
    last_ml_action_sub_state: Any = None
    turn_was_hidden: bool = False
    # How many of the first ``states`` hold no user text beside an intent (checked once each
    # when made): featurizers need not look at them again (bot.dialogue.prediction_states).
    # Nothing edits such a state after it is made, so its JSON is kept too, as needed
    # (bot.dialogue.rule_matching's feature keys).
    clean: int = 0
    jsons: list[str] = field(default_factory=list)


class CheckedStates(list):
    """States as stock returns them (a list), plus what the history knows about them: the first
    ``clean`` hold no user text beside an intent. ``first`` and ``anchor`` (the states at 0 and
    ``clean - 1`` when made) let a reader see that the list was not rearranged since."""

    clean: int = 0
    first: Any = None
    anchor: Any = None
    jsons: Any = None  # JSON of the clean states, filled as asked (the cache's own list)

    def clean_prefix(self) -> int:
        """How many leading states are known clean (0 if the list changed shape)."""
        if self.clean and len(self) >= self.clean and self[0] is self.first \
                and self[self.clean - 1] is self.anchor:
            return self.clean
        return 0


def has_text_and_intent(state: dict) -> bool:
    """What stock featurizers test before removing a state's user text."""
    user = state.get("user", {})
    return bool(user.get("intent") and user.get("text"))


def _checked(states: list[dict], clean: int, jsons: list[str]) -> CheckedStates:
    result = CheckedStates(states)
    if clean:
        result.clean, result.first, result.anchor = clean, result[0], result[clean - 1]
        result.jsons = jsons
    return result


_STATES: OrderedDict[tuple, _States] = OrderedDict()
# Conversations x argument combinations (about three per conversation) kept; a conversation that
# dropped out is recomputed once, as stock does every time. Bounded so memory stays flat.
MAX_CACHED = 600


def states_for_tracker_history(
    self: Domain,
    tracker: DialogueStateTracker,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: dict[str, Any] | None = None,
) -> list[dict]:
    """Stock ``states_for_tracker_history``, resumed from the last call for this tracker."""
    try:
        rule_key = json.dumps(rule_only_data, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return _STOCK_STATES(self, tracker, omit_unset_slots, ignore_rule_only_turns,
                             rule_only_data)
    key = (id(self), tracker.sender_id, omit_unset_slots, ignore_rule_only_turns, rule_key)
    applied = tracker.applied_events()
    cached = _STATES.get(key)
    seen = len(cached.events) if cached is not None else 0
    # Applied events behave as a stack of unique event objects: if the newest one we processed
    # is still at its place (and the first too), everything before it is unchanged.
    if cached is None or len(applied) < seen or (seen and (
            applied[seen - 1] is not cached.events[-1] or applied[0] is not cached.events[0])):
        cached = _States([], tracker.init_copy())
    _STATES[key] = cached
    _STATES.move_to_end(key)
    while len(_STATES) > MAX_CACHED:
        _STATES.popitem(last=False)
    new = applied[len(cached.events):]
    for event in new:
        if isinstance(event, ActionExecuted):
            state = _state(self, cached, event.hide_rule_turn, omit_unset_slots,
                           ignore_rule_only_turns, rule_only_data)
            if state is not None:
                cached.states.append(state)
        cached.replay.update(event)
        cached.events.append(event)
    while cached.clean < len(cached.states) and \
            not has_text_and_intent(cached.states[cached.clean]):
        cached.clean += 1
    # The final state (after the newest event) is not kept: the next event changes it.
    final = _state(self, _copy_cursor(cached), False, omit_unset_slots, ignore_rule_only_turns,
                   rule_only_data)
    if final is not None:
        return _checked([*cached.states, final], cached.clean, cached.jsons)
    # Callers edit the last state in place (featurizers drop its text or intent): never ours.
    return _checked([*cached.states[:-1], *(_copy_state(s) for s in cached.states[-1:])],
                    max(0, min(cached.clean, len(cached.states) - 1)), cached.jsons)


def _copy_state(state: dict) -> dict:
    return {key: dict(value) if isinstance(value, dict) else value
            for key, value in state.items()}


def _copy_cursor(cached: _States) -> _States:
    """The loop's bookkeeping without the states list (the final state must not change it)."""
    return _States(cached.events, cached.replay, [*cached.states[-1:]],
                   cached.last_ml_action_sub_state, cached.turn_was_hidden)


def _state(domain: Domain, cursor: _States, hide_rule_turn: bool, omit_unset_slots: bool,
           ignore_rule_only_turns: bool, rule_only_data: dict[str, Any] | None) -> dict | None:
    """One iteration of the stock loop for the replay tracker as it is now (None: hidden)."""
    import rasa.shared.core.constants as constants

    tr = cursor.replay
    if ignore_rule_only_turns:
        if not cursor.turn_was_hidden:
            cursor.last_ml_action_sub_state = domain._get_prev_action_sub_state(tr)
        if not tr.followup_action and tr.latest_action_name != tr.active_loop_name:
            cursor.turn_was_hidden = hide_rule_turn
        if cursor.turn_was_hidden:
            return None
    state = domain.get_active_state(tr, omit_unset_slots=omit_unset_slots)
    if ignore_rule_only_turns:
        domain._remove_rule_only_features(state, rule_only_data)
        if cursor.states:
            domain._substitute_rule_only_user_input(state, cursor.states[-1])
        if cursor.last_ml_action_sub_state:
            state[constants.PREVIOUS_ACTION] = cursor.last_ml_action_sub_state
    return domain._clean_state(state)

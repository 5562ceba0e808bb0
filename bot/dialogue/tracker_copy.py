"""``DialogueStateTracker.copy`` without replaying the conversation.

Stock ``copy()`` builds an empty tracker and replays every event into it; Rasa copies the tracker
before running each action, so every action paid for the whole history again. The copy here takes
the derived state directly (slot objects copied, dictionaries the events mutate in place copied,
the same event objects in a new list, exactly what the replay ends with) and drops our own
per-tracker caches, which belong to the original. ``tests/test_dialogue_engine.py`` compares it
field by field with the stock copy on real conversations.
"""

from __future__ import annotations

import copy as copy_module

from rasa.shared.core.trackers import DialogueStateTracker

_STOCK_COPY = DialogueStateTracker.copy
# Per-tracker caches of bot.dialogue (history, action_calls): they belong to the original.
_CACHES = ("_smo_applied", "_smo_restarted")


class _NeedsReplay(Exception):
    """The history holds a revert: only a replay says what the copy looks like."""


def _replayed_followup(tracker: DialogueStateTracker) -> str | None:
    """``followup_action`` as a replay leaves it. The processor clears the live tracker's value
    directly (no event) when it runs the follow-up, so the replayed copy can differ: stock Rasa
    hands actions the replayed value, and so do we."""
    from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
    from rasa.shared.core.events import (
        ActionExecuted,
        ActionReverted,
        FollowupAction,
        Restarted,
        SessionStarted,
        UserUtteranceReverted,
        UserUttered,
    )

    for event in reversed(tracker.events):
        if isinstance(event, (UserUtteranceReverted, ActionReverted)):
            raise _NeedsReplay
        if isinstance(event, (UserUttered, ActionExecuted)):
            return None
        if isinstance(event, FollowupAction):
            return event.action_name
        if isinstance(event, Restarted):
            return ACTION_SESSION_START_NAME
        if isinstance(event, SessionStarted):
            return ACTION_LISTEN_NAME
    return ACTION_LISTEN_NAME


def copy(self: DialogueStateTracker) -> DialogueStateTracker:
    """The same state as ``travel_back_in_time(inf)``, in time proportional to the slots."""
    try:
        followup = _replayed_followup(self)
    except _NeedsReplay:
        return _STOCK_COPY(self)
    duplicate = copy_module.copy(self)
    duplicate.followup_action = followup
    for name in _CACHES:
        duplicate.__dict__.pop(name, None)
    duplicate.events = self._create_events(list(self.events))
    duplicate.slots = self.slots.__class__(
        {name: copy_module.copy(slot) for name, slot in self.slots.items()})
    # The active loop is a mutable dataclass (rejections and interruptions set its fields).
    duplicate.active_loop = copy_module.copy(self.active_loop)
    duplicate.latest_action = (dict(self.latest_action) if self.latest_action is not None
                               else None)
    return duplicate

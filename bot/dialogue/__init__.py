"""How our core runs Rasa's dialogue engine faster than stock, with the same results.

- :mod:`bot.dialogue.tracker_store`: the SQL tracker store keeps current conversations in memory.
- :mod:`bot.dialogue.history`: applied events and featurised states extended per new event.
- :mod:`bot.dialogue.tracker_copy`: tracker copies without replaying the conversation.
- :mod:`bot.dialogue.debug_text`: no debug text built when debug logging is off.
- :mod:`bot.dialogue.rule_matching`: rule lookup stops past the longest rule.
- :mod:`bot.dialogue.action_calls`: action server calls validated with a compiled schema and
  carrying recent events only.

:func:`install` applies the patches; the tracker store is chosen in the endpoints.
"""

from __future__ import annotations


def install() -> None:
    """Apply the dialogue-engine patches (idempotent). Called by the core before loading."""
    from bot.dialogue import action_calls, debug_text, history, rule_matching, tracker_copy

    debug_text.install()
    rule_matching.install()
    history.install()
    tracker_copy.install()
    action_calls.install()

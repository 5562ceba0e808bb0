"""Skip building debug text nobody will read.

``RulePolicy`` formats the whole featurised history into a debug string before every prediction
(and deep-copies it), whether or not debug logging is on: a cost that grows with the
conversation. When Rasa's logger is not at DEBUG the string is discarded anyway, so it is not
built; at DEBUG (``SMO_LOG_LEVEL=DEBUG``) it is exactly stock.
"""

from __future__ import annotations

import logging

from rasa.core.policies.policy import Policy

_STOCK_FORMAT = Policy.format_tracker_states


def format_tracker_states(states: list[dict]) -> str:
    """Stock text at DEBUG, else an empty string (it would be thrown away)."""
    if logging.getLogger("rasa").isEnabledFor(logging.DEBUG):
        return _STOCK_FORMAT(states)
    return ""

"""Rule matching that stops where the rules stop.

``RulePolicy._get_possible_keys`` filters the learned rules against the conversation's states
from the newest backwards, and keeps going through the *whole* history even though a rule
counts as applicable at every depth past its own length (``_is_rule_applicable`` returns True
there). So the walk can end once it is deeper than the longest rule still possible: the same
set of keys, without a cost that grows with the conversation.
"""

from __future__ import annotations

from rasa.core.policies.rule_policy import RulePolicy

_STOCK_POSSIBLE_KEYS = RulePolicy._get_possible_keys


def _get_possible_keys(self: RulePolicy, lookup: dict[str, str], states: list[dict]) -> set[str]:
    """Stock result; the walk ends past the longest remaining rule."""
    lengths = {key: len(self._rule_key_to_state(key)) for key in lookup}
    possible_keys = set(lookup)
    for i, state in enumerate(reversed(states)):
        if not possible_keys or i >= max(lengths[key] for key in possible_keys):
            break  # every remaining rule is applicable at this depth and beyond
        possible_keys = {key for key in possible_keys if self._is_rule_applicable(key, i, state)}
    return possible_keys

"""Rule matching that stops where the rules stop, and feature keys from kept JSON.

``RulePolicy._get_possible_keys`` filters the learned rules against the conversation's states
from the newest backwards, and keeps going through the *whole* history even though a rule
counts as applicable at every depth past its own length (``_is_rule_applicable`` returns True
there). So the walk can end once it is deeper than the longest rule still possible: the same
set of keys, without a cost that grows with the conversation.

When no rule applies, ``RulePolicy`` names the prediction by the feature key of the states
after the last rule snippet: the JSON of the whole conversation's states, built by inserting
each at the front of a list (quadratic) and encoding them all, twice a prediction. The key is
the same string here: states the history cache (:mod:`bot.dialogue.history`) made and vouches
for keep their JSON, and a list's JSON is its items' JSON joined by ", " in brackets.
"""

from __future__ import annotations

import json

from rasa.core.policies.rule_policy import RulePolicy

from bot.dialogue.history import CheckedStates

_STOCK_POSSIBLE_KEYS = RulePolicy._get_possible_keys
_STOCK_FEATURE_KEY = RulePolicy._create_feature_key


def _get_possible_keys(self: RulePolicy, lookup: dict[str, str], states: list[dict]) -> set[str]:
    """Stock result; the walk ends past the longest remaining rule."""
    lengths = {key: len(self._rule_key_to_state(key)) for key in lookup}
    possible_keys = set(lookup)
    for i, state in enumerate(reversed(states)):
        if not possible_keys or i >= max(lengths[key] for key in possible_keys):
            break  # every remaining rule is applicable at this depth and beyond
        possible_keys = {key for key in possible_keys if self._is_rule_applicable(key, i, state)}
    return possible_keys


def _create_feature_key(self: RulePolicy, states: list[dict]) -> str | None:
    """Stock ``RulePolicy._create_feature_key``: the JSON (sorted keys) of the states after the
    last rule snippet, None if there are none."""
    start = len(states)
    while start and not self._is_rule_snippet_state(states[start - 1]):
        start -= 1
    if start == len(states):
        return None
    kept = states.clean_prefix() if isinstance(states, CheckedStates) else 0
    if start >= kept:
        return json.dumps(states[start:], sort_keys=True)
    memo = states.jsons
    while len(memo) < kept:
        memo.append(json.dumps(states[len(memo)], sort_keys=True))
    parts = memo[start:kept] + [json.dumps(state, sort_keys=True) for state in states[kept:]]
    return "[" + ", ".join(parts) + "]"

"""Rasa NLU component: the ``person`` entity, who a request is for ("my mother", 我阿媽, 我爸爸).

A dictionary match over ``data/people.yml`` (a closed list of relations in three scripts), like the
plan extractor: the value is the relation key (``mother``), which the ``patient`` slot keeps for
the case packet, so the form never asks who the request is for after the customer has said it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.stateless import StatelessComponent
from bot.paths import DATA_DIR
from bot.yamlfile import load_yaml

PERSON_ENTITY = "person"


@dataclass(frozen=True)
class Mention:
    """One relation word found in a text."""

    start: int
    end: int
    value: str


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    from bot.language import to_simplified, to_traditional

    found: list[tuple[str, str, bool]] = []
    for value, words in load_yaml(DATA_DIR / "people.yml").items():
        for word in words.get("en", []):
            found.append((word.lower(), value, True))
        for word in words.get("zh", []):
            for form in {word, to_simplified(word), to_traditional(word)}:
                found.append((form, value, False))
    found.sort(key=lambda item: -len(item[0]))
    return tuple(
        (re.compile(rf"\b{re.escape(w)}s?\b" if latin else re.escape(w), re.IGNORECASE), value)
        for w, value, latin in found
    )


def find_people(text: str) -> list[Mention]:
    """Relation mentions in ``text``, longest first, never overlapping."""
    taken: list[tuple[int, int]] = []
    mentions: list[Mention] = []
    for pattern, value in _patterns():
        for match in pattern.finditer(text or ""):
            start, end = match.span()
            if any(start < b and a < end for a, b in taken):
                continue
            taken.append((start, end))
            mentions.append(Mention(start, end, value))
    return sorted(mentions, key=lambda m: m.start)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class PersonEntityExtractor(StatelessComponent):
    """Adds a ``person`` entity for the first relation named (the one the request is about)."""

    def process(self, messages: list[Message]) -> list[Message]:
        """Append one ``person`` entity when a relation is named."""
        for message in messages:
            mentions = find_people(message.get(TEXT) or "")
            if not mentions:
                continue
            first = mentions[0]
            entities = list(message.get(ENTITIES, []))
            entities.append(
                {
                    "entity": PERSON_ENTITY,
                    "start": first.start,
                    "end": first.end,
                    "value": first.value,
                    "confidence_entity": 1.0,
                    "extractor": type(self).__name__,
                    "processors": [],
                }
            )
            message.set(ENTITIES, entities, add_to_output=True)
        return messages

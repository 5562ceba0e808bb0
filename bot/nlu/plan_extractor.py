"""Rasa NLU component: the ``plan`` entity, matched from the plan catalogue ``data/plans.yml``.

A dictionary match rather than a learned extractor: plan names are a closed list, customers write
them in three scripts with many abbreviations, and a new synonym must work without retraining.
The entity value is the plan code, the one key used everywhere else.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.stateless import StatelessComponent
from bot.plans import find_plans

PLAN_ENTITY = "plan"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class PlanEntityExtractor(StatelessComponent):
    """Finds plan names and adds ``plan`` entities whose value is the plan code."""

    def process(self, messages: list[Message]) -> list[Message]:
        """Append a ``plan`` entity for every plan mention."""
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            entities = list(message.get(ENTITIES, []))
            for mention in find_plans(text):
                entities.append(
                    {
                        "entity": PLAN_ENTITY,
                        "start": mention.start,
                        "end": mention.end,
                        "value": mention.code,
                        "confidence_entity": 1.0,
                        "extractor": type(self).__name__,
                        "processors": [],
                    }
                )
            message.set(ENTITIES, entities, add_to_output=True)
        return messages

"""Rasa NLU component: screens every message with :func:`bot.screening.screen`.

The result (category, matched and negated terms) is added to the parse data as ``screening``. It
does not touch the intent: the emergency exit is driven by this screening, never by the classifier
(see ``bot.policies_rasa.EmergencyPolicy``), and the intent stays what the customer asked.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.stateless import StatelessComponent
from bot.screening import screen

SCREENING = "screening"
# A message that names a condition the service takes also carries a ``condition`` entity (value:
# the category), so rules can tell "how do I apply?" from "my mum has breast cancer, how do I
# apply?" (data/rules/care.yml): the second starts the request at once.
CONDITION_ENTITY = "condition"
NAMED_CATEGORIES = ("eligible",)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class ConditionScreener(StatelessComponent):
    """Adds ``screening`` to every parsed message."""

    def process(self, messages: list[Message]) -> list[Message]:
        """Screen each message's text."""
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            result = screen(text)
            message.set(SCREENING, result.as_dict(), add_to_output=True)
            if result.category in NAMED_CATEGORIES:
                entity = {
                    "entity": CONDITION_ENTITY,
                    "start": 0,
                    "end": len(text),
                    "value": result.category,
                    "confidence_entity": 1.0,
                    "extractor": type(self).__name__,
                    "processors": [],
                }
                message.set(ENTITIES, [*message.get(ENTITIES, []), entity], add_to_output=True)
        return messages

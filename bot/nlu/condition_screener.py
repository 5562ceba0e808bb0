"""Rasa NLU component: screens every message with :func:`bot.screening.screen`.

The result (category, matched and negated terms) is added to the parse data as ``screening``. It
does not touch the intent: the emergency exit is driven by this screening, never by the classifier
(see ``bot.policies_rasa.EmergencyPolicy``), and the intent stays what the customer asked.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.stateless import StatelessComponent
from bot.screening import screen

SCREENING = "screening"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class ConditionScreener(StatelessComponent):
    """Adds ``screening`` to every parsed message."""

    def process(self, messages: list[Message]) -> list[Message]:
        """Screen each message's text."""
        for message in messages:
            text = message.get(TEXT)
            if text:
                message.set(SCREENING, screen(text).as_dict(), add_to_output=True)
        return messages

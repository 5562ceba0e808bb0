"""Rasa NLU component: records each message's detected language in the parse data.

It only detects; whether the reply language changes is decided with the conversation's history by
the ``action_validate_slot_mappings`` action (stickiness needs the previous language).
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.language import detect
from bot.nlu.stateless import StatelessComponent

LANGUAGE_DETECTION = "language_detection"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class LanguageDetector(StatelessComponent):
    """Adds ``language_detection`` (language, strength, requested) to every parsed message."""

    def process(self, messages: list[Message]) -> list[Message]:
        """Detect the language of each message's text."""
        for message in messages:
            text = message.get(TEXT)
            if text is not None:
                message.set(LANGUAGE_DETECTION, detect(text).as_dict(), add_to_output=True)
        return messages

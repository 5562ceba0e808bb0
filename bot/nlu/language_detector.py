"""Rasa NLU component: records each message's detected language in the parse data.

It only detects; whether the reply language changes is decided with the conversation's history by
the ``action_validate_slot_mappings`` action (stickiness needs the previous language).
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.language import detect

LANGUAGE_DETECTION = "language_detection"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class LanguageDetector(GraphComponent):
    """Adds ``language_detection`` (language, strength, requested) to every parsed message."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDetector:
        """Stateless: nothing to train or load."""
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        """Detect the language of each message's text."""
        for message in messages:
            text = message.get(TEXT)
            if text is not None:
                message.set(LANGUAGE_DETECTION, detect(text).as_dict(), add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Training examples need no language: the classifier does not use it."""
        return training_data

"""Rasa NLU component: a message made only of words the model never saw is not understood.

DIET always picks *some* intent, often confidently, even for "qwxz zzkv" or a lone "…". Confidence
thresholds cannot tell those from short real messages, but the vocabulary can: this component keeps
the set of word tokens seen in training and, when none of a message's words is known (allowing for
typos: a close spelling counts as known), replaces the intent with ``nlu_fallback``, so the bot asks
the customer to rephrase instead of guessing.
"""

from __future__ import annotations

import difflib
import json
import unicodedata
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

FALLBACK_INTENT = "nlu_fallback"
VOCABULARY_FILE = "vocabulary.json"
TYPO_CUTOFF = 0.8  # difflib ratio for "a close spelling of a known word"


def _is_word(token: str) -> bool:
    return any(unicodedata.category(ch)[0] == "L" for ch in token)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class UnknownWordsFallback(GraphComponent):
    """Turns messages with no known word (or unknown symbols only) into ``nlu_fallback``."""

    def __init__(
        self,
        model_storage: ModelStorage,
        resource: Resource,
        words: set[str] | None = None,
        symbols: set[str] | None = None,
    ) -> None:
        self._storage = model_storage
        self._resource = resource
        self.words = words or set()
        self.symbols = symbols or set()
        self._latin = sorted(w for w in self.words if w.isascii())

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> UnknownWordsFallback:
        """Untrained: an empty vocabulary."""
        return cls(model_storage, resource)

    @staticmethod
    def _tokens(message: Message) -> list[str]:
        return [t.text for t in message.get(TOKENS_NAMES[TEXT]) or []]

    def train(self, training_data: TrainingData) -> Resource:
        """Remember every word and every symbol-only message seen in training."""
        for example in training_data.intent_examples:
            tokens = self._tokens(example)
            self.words.update(t for t in tokens if _is_word(t))
            if not any(_is_word(t) for t in tokens):
                self.symbols.add("".join(tokens))
        with self._storage.write_to(self._resource) as directory:
            (Path(directory) / VOCABULARY_FILE).write_text(
                json.dumps(
                    {"words": sorted(self.words), "symbols": sorted(self.symbols)},
                    ensure_ascii=False,
                ),
                encoding="utf-8",
            )
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> UnknownWordsFallback:
        """The vocabulary stored with the model."""
        try:
            with model_storage.read_from(resource) as directory:
                data = json.loads((Path(directory) / VOCABULARY_FILE).read_text(encoding="utf-8"))
            return cls(model_storage, resource, set(data["words"]), set(data["symbols"]))
        except (ValueError, FileNotFoundError):
            return cls(model_storage, resource)

    def _known(self, token: str) -> bool:
        if token in self.words:
            return True
        if token.isascii():
            return len(token) >= 4 and bool(
                difflib.get_close_matches(token, self._latin, n=1, cutoff=TYPO_CUTOFF)
            )
        return (
            any(ch in self.words for ch in token)
            or len(token) > 1
            and any(token[i : i + 2] in self.words for i in range(len(token) - 1))
        )

    def understood(self, tokens: list[str]) -> bool:
        """True when at least one word is known, or the symbols were seen in training."""
        words = [t for t in tokens if _is_word(t)]
        if not words:
            return "".join(tokens) in self.symbols
        return any(self._known(w) for w in words)

    def process(self, messages: list[Message]) -> list[Message]:
        """Replace the intent of messages with nothing known."""
        if not self.words:
            return messages
        for message in messages:
            if message.get(TEXT) and not self.understood(self._tokens(message)):
                confidence = (message.get(INTENT) or {}).get(PREDICTED_CONFIDENCE_KEY, 0.0)
                message.set(
                    INTENT,
                    {INTENT_NAME_KEY: FALLBACK_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0 - confidence},
                    add_to_output=True,
                )
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Nothing to add."""
        return training_data

"""Rasa tokenizer for English, written Cantonese and Standard Chinese in one message.

Why not Rasa's ``JiebaTokenizer``: it feeds jieba the raw text, so Traditional and Simplified
spellings of one word become different tokens, full-width and upper-case letters are kept, and
spaces in mixed text ("我想問下second opinion") come out as tokens of their own. Here every message
is first folded with :func:`bot.language.normalise` (same length, so token offsets still index the
original text), segmented by a private jieba instance that knows our user dictionary (insurance,
medical and Cantonese words, ``data/lexicon/jieba/*.txt``), and whitespace and punctuation tokens
are dropped.
"""

from __future__ import annotations

import logging
import shutil
import unicodedata
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.language import normalise
from bot.segmenter import Segmenter

logger = logging.getLogger(__name__)


def _is_noise(token: str) -> bool:
    """Whitespace or punctuation only (emoji are kept: 🙏 and 👋 carry meaning)."""
    return all(ch.isspace() or unicodedata.category(ch).startswith("P") for ch in token)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class TrilingualTokenizer(Tokenizer):
    """Script-folding, jieba-based tokenizer with a user dictionary and no stray tokens."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """``dictionary_path``: folder of jieba user dictionaries (any script)."""
        return {
            "dictionary_path": None,
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        dictionary_dir: Path | None,
    ) -> None:
        super().__init__(config)
        self._model_storage = model_storage
        self._resource = resource
        self._dictionary_dir = dictionary_dir
        self._segmenter = Segmenter(dictionary_dir)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TrilingualTokenizer:
        """Used for training: the dictionary comes from the data folder."""
        path = config.get("dictionary_path")
        return cls(config, model_storage, resource, Path(path) if path else None)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TrilingualTokenizer:
        """Used at run time: the dictionary comes from the trained model, not the data folder."""
        try:
            with model_storage.read_from(resource) as directory:
                # The segmenter reads the files now, inside the context, so the path may vanish.
                return cls(config, model_storage, resource, Path(directory))
        except ValueError:
            logger.debug("No dictionary stored with the model; using jieba's own.")
            return cls(config, model_storage, resource, None)

    def train(self, training_data: TrainingData) -> Resource:
        """Store the user dictionary inside the model so the model is self-contained."""
        if self._dictionary_dir is not None:
            with self._model_storage.write_to(self._resource) as directory:
                for file in sorted(self._dictionary_dir.glob("*.txt")):
                    shutil.copy2(file, Path(directory) / file.name)
        return self._resource

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        """Tokens carry folded text but offsets into the original message."""
        text = message.get(attribute)
        folded = normalise(text)
        tokens = [
            Token(word, start, end)
            for word, start, end in self._segmenter.segment(folded)
            if not _is_noise(word)
        ]
        if not tokens and folded.strip():
            stripped = folded.strip()
            start = folded.index(stripped)
            tokens = [Token(stripped, start, start + len(stripped))]
        return self._apply_token_pattern(tokens)

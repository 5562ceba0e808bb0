"""Word segmentation for folded (Simplified, lower-case) text: jieba plus our user dictionary.

A private ``jieba.Tokenizer`` instance, so loading our dictionary never changes jieba's global state
(which other libraries may share). Dictionary files may be written in either script: entries are
folded the same way as the text they will meet. Shared by the NLU tokenizer and the screener.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import jieba

from bot.language import normalise

jieba.setLogLevel(logging.WARNING)
_lock = threading.Lock()


def _folded_entries(directory: Path) -> str:
    """All dictionary lines, the word folded, frequency and tag kept."""
    lines = []
    for file in sorted(directory.glob("*.txt")):
        for raw in file.read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            word, *rest = line.split()
            lines.append(" ".join([normalise(word), *rest]))
    return "\n".join(lines)


class Segmenter:
    """Splits folded text into (word, start, end) spans."""

    def __init__(self, dictionary_dir: Path | None = None) -> None:
        self._jieba = jieba.Tokenizer()
        with _lock:  # jieba's first initialisation writes a shared cache file
            self._jieba.initialize()
        if dictionary_dir is not None:
            entries = _folded_entries(dictionary_dir)
            if entries:
                self._jieba.load_userdict(io.StringIO(entries))

    def segment(self, folded: str) -> Iterator[tuple[str, int, int]]:
        """jieba's spans over ``folded`` (pass text through :func:`normalise` first)."""
        yield from self._jieba.tokenize(folded, HMM=True)

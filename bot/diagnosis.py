"""The condition a description names, written as the customer wrote it, for the case summary.

When the first message (or the description step) already named the condition ("my mother was
just diagnosed with breast cancer"), the case packet does not ask "what is the diagnosis?" again:
its ``diagnosis`` is the named condition. The screening finds the terms; a term from a family
match may be only the family's head (瘤 of 腦膜瘤, "tumour" of "bone tumour"), so each term is
widened to the left over the words that qualify it, up to a word that only introduces it
(``data/condition_names.yml``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from bot.paths import DATA_DIR
from bot.screening import Finding, screen
from bot.yamlfile import load_yaml

NAMING_SECTIONS = ("serious", "complication")  # what a diagnosis is; symptoms and history are not
_HAN = re.compile(r"[\u3400-\u9fff]")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z'\-]*)\s+$")


@dataclass(frozen=True)
class _Rules:
    stop_en: frozenset[str]
    stop_zh: frozenset[str]
    max_en: int
    max_zh: int
    disease_words: tuple[str, ...]


@lru_cache(maxsize=1)
def _rules() -> _Rules:
    raw = load_yaml(DATA_DIR / "condition_names.yml")
    return _Rules(
        frozenset(w.lower() for w in raw["stop_en"]),
        frozenset(ch for ch in str(raw["stop_zh"]) if not ch.isspace()),
        int(raw["max_widen_en"]),
        int(raw["max_widen_zh"]),
        tuple(str(w).lower() for w in raw["disease_words"]),
    )


def _widen(text: str, start: int, end: int) -> int:
    """The start of the name whose head is ``text[start:end]``: only a family's head (one
    character, 瘤 / 癌; one English word) is widened, a listed term is a whole name already."""
    rules = _rules()
    if _HAN.match(text[start]):
        if end - start > 1:
            return start
        taken = 0
        while (start > 0 and taken < rules.max_zh and _HAN.match(text[start - 1])
               and text[start - 1] not in rules.stop_zh):
            start -= 1
            taken += 1
        return start
    if " " in text[start:end].strip():
        return start
    for _ in range(rules.max_en):
        match = _WORD_BEFORE.search(text[:start])
        if match is None or match.group(1).lower() in rules.stop_en:
            break
        start = match.start(1)
    return start


def _names(text: str, findings: tuple[Finding, ...]) -> list[str]:
    names: list[str] = []
    for finding in sorted(findings, key=lambda f: f.start):
        if (finding.negated or finding.historical
                or finding.effective_section not in NAMING_SECTIONS):
            continue
        name = text[_widen(text, finding.start, finding.end):finding.end].strip()
        if name and not any(name.lower() in n.lower() for n in names):
            names = [n for n in names if n.lower() not in name.lower()] + [name]
    return names


def named_condition(text: str, language: str | None = None) -> str | None:
    """The condition ``text`` names, as written ("bone tumour", 腦膜瘤); ``None`` when it names
    none. One name: the first disease named, else the first term. The screening's serious terms
    include procedures (biopsy, 手術, chemo), which are not the diagnosis."""
    names = _names(text or "", screen(text or "", language).findings)
    diseases = [n for n in names if any(w in n.lower() for w in _rules().disease_words)]
    return (diseases or names or [None])[0]

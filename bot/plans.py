"""The plan catalogue (``data/plans.yml``) and finding plan names in free text.

Plan names are matched from the catalogue rather than learned, so a new synonym is one line of data
and works in every script at once (text and names are folded with :func:`bot.language.normalise`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from bot.language import normalise, reply_script
from bot.paths import DATA_DIR
from bot.yamlfile import DataFileError, load_yaml

_IGNORABLE = r"[\s\-_·・「」『』“”\"'()（）]*"


@dataclass(frozen=True)
class Plan:
    """One insurance plan and whether the Second Medical Opinion service covers it."""

    code: str
    eligible: bool
    names: dict[str, str]
    synonyms: tuple[str, ...]
    leaflet_note: str

    def name(self, language: str | None) -> str:
        """The plan's display name for a reply language."""
        return self.names[reply_script(language)]


@dataclass(frozen=True)
class PlanMention:
    """A plan named in a message, with its character span in the original text."""

    code: str
    start: int
    end: int
    text: str


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Plan]:
    """All plans by code, validated once."""
    raw = load_yaml(DATA_DIR / "plans.yml")
    plans: dict[str, Plan] = {}
    for entry in raw.get("plans", []):
        code = entry.get("code")
        names = entry.get("names") or {}
        if not code or set(names) != {"en", "zh-Hant", "zh-Hans"}:
            raise DataFileError(
                f"plans.yml: plan {code!r} needs a code and names en/zh-Hant/zh-Hans"
            )
        if code in plans:
            raise DataFileError(f"plans.yml: duplicate plan code {code!r}")
        plans[code] = Plan(
            code=code,
            eligible=bool(entry.get("eligible")),
            names=dict(names),
            synonyms=tuple(str(s) for s in entry.get("synonyms", [])),
            leaflet_note=str(entry.get("leaflet_note", "")),
        )
    return plans


def eligible_codes() -> list[str]:
    """Codes of the plans whose insured persons may use the service."""
    return [code for code, plan in catalogue().items() if plan.eligible]


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    """One pattern per name or synonym, longest first so 危疾多重保障計劃 beats 多重保."""
    surface: list[tuple[str, str]] = []
    for plan in catalogue().values():
        for name in (*plan.names.values(), *plan.synonyms, plan.code):
            key = re.sub(_IGNORABLE, "", normalise(name))
            if key:
                surface.append((key, plan.code))
    surface.sort(key=lambda item: -len(item[0]))
    patterns = []
    for key, code in surface:
        body = _IGNORABLE.join(re.escape(ch) for ch in key)
        if key.isascii():
            body = rf"(?<![a-z0-9]){body}(?![a-z0-9])"
        patterns.append((re.compile(body), code))
    return patterns


def find_plans(text: str) -> list[PlanMention]:
    """Every plan named in ``text``, left to right, without overlaps."""
    folded = normalise(text)
    taken: list[tuple[int, int]] = []
    found: list[PlanMention] = []
    for pattern, code in _patterns():
        for match in pattern.finditer(folded):
            start, end = match.span()
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            found.append(PlanMention(code, start, end, text[start:end]))
    return sorted(found, key=lambda m: m.start)

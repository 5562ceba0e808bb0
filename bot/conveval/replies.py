"""Which of ``domain.yml``'s responses a reply holds, and in which script it is written.

Channels change a response on the way out: numbered options are put under it (WhatsApp,
WeChat), and a WeChat passive reply joins all the bubbles of one turn with blank lines. So a
response is recognised by *searching* the reply for its text, its ``{slot}`` placeholders
matching any text, and a match lying inside a longer one is dropped ("OK" inside a whole
paragraph says nothing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bot.language import CHINESE, detect, reply_script
from bot.paths import ROOT

SCRIPTS = ("en", "zh-Hant", "zh-Hans")
_SLOT = re.compile(r"\{[a-z_]+\}")
_MIN_FIXED = 4  # a variant with less fixed text than this (e.g. "{text}") is not searched for
_LATIN = re.compile(r"[A-Za-z]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Variant:
    """One response variant as a search pattern."""

    name: str
    script: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class Found:
    """A response found in a reply: which bubble, where, and the variant's script."""

    name: str
    script: str
    bubble: int
    start: int
    end: int


def _variant_script(variant: dict) -> str:
    for condition in variant.get("condition") or []:
        if condition.get("name") == "language":
            return reply_script(str(condition.get("value")))
    return "zh-Hant"  # the unconditioned variant is the Traditional one


def _pattern(text: str) -> re.Pattern[str] | None:
    parts = _SLOT.split(text.strip())
    if sum(len(p.strip()) for p in parts) < _MIN_FIXED:
        return None
    return re.compile("(?:.+?)".join(re.escape(p) for p in parts), re.S)


@lru_cache(maxsize=4)
def catalogue(domain: Path = ROOT / "domain.yml") -> tuple[Variant, ...]:
    """Every response variant of ``domain`` that can be searched for."""
    responses = yaml.safe_load(domain.read_text(encoding="utf-8"))["responses"]
    variants = []
    for name, items in responses.items():
        for item in items:
            pattern = _pattern(str(item.get("text") or ""))
            if pattern is not None:
                variants.append(Variant(name, _variant_script(item), pattern))
    return tuple(variants)


def find(bubbles: list[str], variants: tuple[Variant, ...] | None = None) -> list[Found]:
    """The responses in ``bubbles``, in the order they were said."""
    variants = catalogue() if variants is None else variants
    found: list[Found] = []
    for index, bubble in enumerate(bubbles):
        hits = []
        for variant in variants:
            match = variant.pattern.search(bubble)
            if match:
                hits.append(Found(variant.name, variant.script, index, *match.span()))
        for hit in hits:
            inside = any(
                other is not hit
                and other.start <= hit.start
                and hit.end <= other.end
                and (other.end - other.start) > (hit.end - hit.start)
                for other in hits
            )
            if not inside:
                found.append(hit)
    found.sort(key=lambda f: (f.bubble, f.start))
    return found


def names(bubbles: list[str], variants: tuple[Variant, ...] | None = None) -> list[str]:
    """The names of the responses in ``bubbles``, in order, each once."""
    return list(dict.fromkeys(f.name for f in find(bubbles, variants)))


def script_of(bubble: str, variants: tuple[Variant, ...] | None = None) -> set[str]:
    """The scripts ``bubble`` may be in: those of the response variants it is (its own text
    decides otherwise: Latin letters outnumbering Chinese characters are English; Chinese is
    Simplified or Traditional by its characters, script-neutral Chinese fits both)."""
    found = find([bubble], variants)
    if found:
        widest = max(f.end - f.start for f in found)
        return {f.script for f in found if f.end - f.start == widest}
    latin, han = len(_LATIN.findall(bubble)), len(_HAN.findall(bubble))
    if not han:
        return {"en"} if latin else set(SCRIPTS)
    if latin > 2 * han:
        return {"en"}
    detection = detect("".join(_HAN.findall(bubble)))
    if detection.language in CHINESE and detection.strength.value == "strong":
        return {reply_script(detection.language)}
    return {"zh-Hant", "zh-Hans"}

"""The domain's responses, so tests can assert *which* response the bot sent, in any language."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

from bot.language import reply_script

ROOT = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def responses() -> dict[str, list[dict]]:
    """All responses of domain.yml."""
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]


def variant_script(variant: dict) -> str:
    """The reply script a variant serves (the one without a condition is Traditional)."""
    for condition in variant.get("condition") or []:
        if condition.get("name") == "language":
            return str(condition["value"])
    return "zh-Hant"


def text_of(response: str, language: str | None) -> str:
    """The text the bot sends for ``response`` to a customer whose language is ``language``."""
    script = reply_script(language)
    for variant in responses()[response]:
        if variant_script(variant) == script:
            return variant["text"]
    raise KeyError(f"{response} has no {script} variant")


def pattern_of(response: str, language: str | None) -> re.Pattern[str]:
    """A regex matching the response's text with its ``{slot}`` placeholders filled in."""
    text = text_of(response, language)
    parts = re.split(r"\{[a-z_]+\}", text)
    return re.compile("^" + "(.+?)".join(re.escape(p) for p in parts) + "$", re.S)


def which(texts: list[str], language: str | None) -> list[str]:
    """Names of the responses that produced ``texts`` (``?`` for a text no response matches)."""
    names = []
    for text in texts:
        found = [name for name in responses() if _matches(name, language, text)]
        names.append(found[0] if found else f"?{text[:40]}")
    return names


def _matches(name: str, language: str | None, text: str) -> bool:
    try:
        return bool(pattern_of(name, language).match(text))
    except KeyError:
        return False


def variant_of(response: str, language: str | None) -> dict:
    """The whole variant (text and buttons) the bot sends for ``response`` in ``language``."""
    script = reply_script(language)
    for variant in responses()[response]:
        if variant_script(variant) == script:
            return variant
    raise KeyError(f"{response} has no {script} variant")


def as_messenger(response: str, language: str | None) -> str:
    """The text a messenger customer sees: buttons rendered as numbered options."""
    from channels.core.text import render

    return render([variant_of(response, language)], language)[0].text

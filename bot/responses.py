"""The domain's responses rendered outside the dialogue (notices the channels and staff tools send).

Same choice of variant as Rasa's response conditions in this project: the ``language``-conditioned
variant for ``en`` / ``zh-Hans``, the unconditioned (Traditional) one otherwise; ``{name}``
placeholders are filled from keyword arguments. Buttons are returned with the text.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import yaml

from bot.language import reply_script
from bot.paths import ROOT


@lru_cache(maxsize=1)
def _responses() -> dict[str, list[dict[str, Any]]]:
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]


def _script(variant: dict[str, Any]) -> str | None:
    for condition in variant.get("condition") or []:
        if condition.get("name") == "language":
            return str(condition.get("value"))
    return None


def message(response: str, language: str | None, **values: Any) -> dict[str, Any]:
    """``{"text": …, "buttons": […]}`` of ``response`` for a reply language."""
    variants = _responses()[response]
    script = reply_script(language)
    chosen = next((v for v in variants if _script(v) == script), None)
    chosen = chosen or next((v for v in variants if _script(v) is None), variants[0])
    text = chosen.get("text", "")
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    return {"text": text, "buttons": list(chosen.get("buttons") or [])}


def text(response: str, language: str | None, **values: Any) -> str:
    """Just the text."""
    return message(response, language, **values)["text"]

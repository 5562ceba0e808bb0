"""What opens a conversation that starts without a message: a WeChat follow or a menu click.

The menu's keys and the responses they open are data (data/wechat_menu.yml): the installed menu
and the answer to its clicks come from the same file, so a renamed key cannot leave a button
that gets no answer.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from bot.paths import DATA_DIR
from bot.yamlfile import load_yaml

MENU_FILE = DATA_DIR / "wechat_menu.yml"


@lru_cache(maxsize=1)
def menu_data() -> dict[str, Any]:
    """data/wechat_menu.yml, read once."""
    return load_yaml(MENU_FILE)


def clickable(key: str | None) -> bool:
    """Whether a CLICK event's key is one of our menu's (others get no answer, as before)."""
    return bool(key) and key in (menu_data().get("clicks") or {})


def opening(payload: dict[str, Any] | None, language: str | None) -> str:
    """The response that opens the chat for an event (``{"event": ..., "key": ...}``): the
    greeting in the customer's language when it is known, else the three-script welcome."""
    payload = payload or {}
    data = menu_data()
    entry = (data.get("clicks") or {}).get(payload.get("key") or "")
    if payload.get("event") != "click" or entry is None:
        entry = data["subscribe"]
    return entry["greeting"] if language else entry["unknown_language"]

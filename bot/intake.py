"""The domain's rules for what arrives beside the dialogue, applied by the channel runtime.

- A message over the per-customer rate limit is still answered when it describes an emergency.
- A photo, a file or a location is kept on the customer's open case, by reference.
- A chat that opens without a message (a WeChat follow or a menu click) gets the welcome.

The channels decide nothing of this: they store, order and deliver (``channels/core``).
The menu's keys and the responses they open are data (``data/wechat_menu.yml``): the installed
menu and the answer to its clicks come from the same file, so a renamed key cannot leave a button
that gets no answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from bot.cases import store as cases
from bot.paths import DATA_DIR
from bot.yamlfile import load_yaml

MENU_FILE = DATA_DIR / "wechat_menu.yml"
# The acknowledgement of an attachment, by what it is and whether it went on an open case: only
# say it is on the case when it is (with no open case no nurse would see it).
_RECEIVED = {("media", True): "utter_media_received",
             ("media", False): "utter_media_received_no_case",
             ("location", True): "utter_location_received",
             ("location", False): "utter_location_received_no_case"}


def answered_over_rate_limit(kind: str, text: str | None) -> bool:
    """Whether a message over the rate limit is answered all the same: an emergency is (999 /
    120). Someone in trouble types fast; the limit protects the model from floods, not from
    them. The same screening the core's emergency guard runs (no model: the lexicons)."""
    # Imported here: the gateway loads the screening's lexicons only once someone is over the
    # limit (it needs them for nothing else).
    from bot.screening import screen

    return kind == "text" and screen(text or "").category == "emergency"


@dataclass(frozen=True)
class Attached:
    """What receiving an attachment came to."""

    response: str  # the acknowledgement to send (on the case, or not)
    label: str  # what the transcript shows when it came without a caption ("image/jpeg")


def attach(conversation_id: str, kind: str, payload: dict[str, Any],
           received_at: datetime) -> Attached:
    """Put media (``payload["media"]``: provider URL and type) or a location on the open case:
    the reference goes on the case, never the content."""
    attachments = payload.get("media") or []
    if kind == "location":
        attachments = [{"type": "location", "coordinates": payload.get("location")}]
    attached = [cases.add_media(conversation_id,
                                {**reference, "received_at": received_at.isoformat()})
                for reference in attachments]
    on_case = bool(attached) and all(case is not None for case in attached)
    what = "location" if kind == "location" else "media"
    label = ", ".join(str(a.get("type") or "file") for a in attachments) or kind
    return Attached(_RECEIVED[(what, on_case)], label)


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

"""WhatsApp taps through Twilio's Content API: quick replies (up to 3) or a list (up to 10).

An offer's content is created once per text (the text carries the language) and its
``ContentSid`` reused: remembered in this process and in shared storage
(``channels/core/kv.py``) for every instance and restart. twilio 8.2.2 has no ``create`` for
Content (``client.content.v1.contents`` lists, fetches and deletes only), so the content is
posted as JSON with the official client's own async HTTP client (auth, user agent, timeouts),
to ``TWILIO_API_URL`` when set (the sandbox's fake) or ``https://content.twilio.com``.

Each content also holds a ``twilio/text`` variant, the numbered text: what a client that cannot
show buttons displays. Option ids are the options' numbers: a tap comes back as
``ButtonPayload`` and is mapped to the option the runtime remembers, never read as a payload.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from channels.core.kv import shared_storage
from channels.core.text import Offer, wording

CONTENT_BASE_URL = "https://content.twilio.com"
QUICK_REPLY_MAX = 3  # in-session WhatsApp quick replies without template approval
QUICK_REPLY_TITLE = 20
LIST_MAX = 10
LIST_ITEM = 24
BODY_MAX = 1024
LANGUAGES = {"en": "en", "zh-Hant": "zh_HK", "zh-Hans": "zh_CN"}


class ContentRefused(Exception):
    """Twilio refused to create the content (the numbered text is sent instead)."""


def content_types(offer: Offer, fallback: str) -> dict[str, Any] | None:
    """The content's types for an offer, or None when WhatsApp could not show it as buttons
    (too many options, a title or the text too long): the numbered text goes out then."""
    titles, body = offer.titles, offer.body or offer.hint
    if len(body) > BODY_MAX:
        return None
    numbered = [(title, str(number)) for number, title in enumerate(titles, 1)]
    if len(titles) <= QUICK_REPLY_MAX and all(len(t) <= QUICK_REPLY_TITLE for t in titles):
        interactive = {"twilio/quick-reply": {
            "body": body, "actions": [{"title": t, "id": i} for t, i in numbered]}}
    elif len(titles) <= LIST_MAX and all(len(t) <= LIST_ITEM for t in titles):
        interactive = {"twilio/list-picker": {
            "body": body, "button": wording("choose_button", offer.script),
            "items": [{"item": t, "id": i} for t, i in numbered]}}
    else:
        return None
    return {**interactive, "twilio/text": {"body": fallback}}


def content_key(types: dict[str, Any]) -> str:
    """One key per content: the same offer in the same words always finds its ContentSid."""
    canonical = json.dumps(types, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:40]


class ContentCache:
    """ContentSids by content key: in memory, backed by shared storage."""

    def __init__(self, account_sid: str, storage: Any = None) -> None:
        self._storage = storage
        self._account_sid = account_sid
        self._known: dict[str, str] = {}

    def _shared(self) -> Any:
        if self._storage is None:  # made on first use: never at import time
            self._storage = shared_storage(f"twilio-content:{self._account_sid}")
        return self._storage

    def get(self, key: str) -> str | None:
        sid = self._known.get(key)
        if sid is None:
            sid = self._shared().get(key)
            if sid:
                self._known[key] = sid
        return sid

    def put(self, key: str, sid: str) -> None:
        self._known[key] = sid
        self._shared().set(key, sid)

    def forget(self, key: str) -> None:
        """A ContentSid Twilio no longer accepts (deleted in the console): create it again."""
        self._known.pop(key, None)
        self._shared().delete(key)


async def create_content(client: Any, base_url: str | None, key: str, script: str,
                         types: dict[str, Any]) -> str:
    """Create the content with Twilio; its ContentSid (``ContentRefused`` when refused)."""
    document = {"friendly_name": f"smo_offer_{key[:24]}", "language": LANGUAGES[script],
                "variables": {}, "types": types}
    response = await client.request_async(
        "POST", f"{(base_url or CONTENT_BASE_URL).rstrip('/')}/v1/Content",
        data=json.dumps(document, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json"},
    )
    if not 200 <= response.status_code < 300:
        raise ContentRefused(f"content create answered {response.status_code}")
    try:
        sid = json.loads(response.text)["sid"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ContentRefused("content create answered without a sid") from exc
    return str(sid)

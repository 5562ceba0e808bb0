"""The fake Twilio's Content API: create a content (checked as Twilio documents it), fetch one.
A message sent with one of these contents carries its text variant as the body.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .fake_twilio_state import check_basic, rfc2822, state_of, twilio_error, utc_now
from .signing import twilio_sid

CONTENT_TYPES = {"twilio/text", "twilio/quick-reply", "twilio/list-picker", "twilio/media",
                 "twilio/call-to-action", "twilio/card"}


def content_body(types: dict[str, Any]) -> str:
    """The body a message sent with this content carries: its ``twilio/text`` variant (what a
    client without buttons shows), else the interactive variant's body."""
    for kind in ("twilio/text", "twilio/quick-reply", "twilio/list-picker"):
        if kind in types:
            return str(types[kind].get("body") or "")
    return ""


def _content_problem(document: Any) -> str | None:
    """What Twilio would refuse in a content document (None: valid), as documented for
    twilio/quick-reply (1-10 actions, title <= 20) and twilio/list-picker (1-10 items,
    item <= 24, button required), bodies <= 1024 (1600 for twilio/text)."""
    if not isinstance(document, dict) or not isinstance(document.get("types"), dict):
        return "types is required"
    if not document.get("language"):
        return "language is required"
    types = document["types"]
    if not types or set(types) - CONTENT_TYPES:
        return "unknown content type"
    for kind, spec in types.items():
        body = (spec or {}).get("body")
        if not isinstance(body, str) or not body:
            return f"{kind}: body is required"
        if len(body) > (1600 if kind == "twilio/text" else 1024):
            return f"{kind}: body too long"
    quick = types.get("twilio/quick-reply")
    if quick is not None:
        actions = quick.get("actions") or []
        if not 1 <= len(actions) <= 10 or any(
                not a.get("id") or not 0 < len(a.get("title") or "") <= 20 for a in actions):
            return "twilio/quick-reply: 1 to 10 actions, each an id and a title of <= 20"
    picker = types.get("twilio/list-picker")
    if picker is not None:
        items = picker.get("items") or []
        if not picker.get("button") or len(picker["button"]) > 20:
            return "twilio/list-picker: button is required (<= 20 characters)"
        if not 1 <= len(items) <= 10 or any(
                not i.get("id") or not 0 < len(i.get("item") or "") <= 24 for i in items):
            return "twilio/list-picker: 1 to 10 items, each an id and an item of <= 24"
    return None


async def create_content(request: web.Request) -> web.Response:
    """``POST /v1/Content`` (JSON: friendly_name, language, variables, types): 201 and the
    Content resource (``sid`` HX + 32 hex)."""
    state = state_of(request)
    state.stats["content_creates"] += 1
    denied = check_basic(request, state)
    if denied is not None:
        return denied
    try:
        document = json.loads(await request.read())
    except ValueError:
        return twilio_error(400, 20001, "Invalid JSON")
    problem = _content_problem(document)
    if problem is None and state.refuse_content > 0:
        state.refuse_content -= 1
        problem = "refused by /_sandbox/refuse_content"
    if problem is not None:
        return twilio_error(400, 20001, problem)
    sid = twilio_sid("HX")
    now = rfc2822(utc_now())
    resource = {"sid": sid, "account_sid": state.account_sid,
                "friendly_name": document.get("friendly_name"),
                "language": document["language"], "variables": document.get("variables") or {},
                "types": document["types"], "date_created": now, "date_updated": now,
                "url": f"https://content.twilio.com/v1/Content/{sid}", "links": {}}
    state.contents[sid] = resource
    return web.json_response(resource, status=201)


async def fetch_content(request: web.Request) -> web.Response:
    state = state_of(request)
    denied = check_basic(request, state)
    if denied is not None:
        return denied
    content = state.contents.get(request.match_info["sid"])
    if content is None:
        return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
    return web.json_response(content)

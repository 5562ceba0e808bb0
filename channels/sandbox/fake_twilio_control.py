"""The fake Twilio's ``/_sandbox`` endpoints: what tests and the player use to look inside it and
steer it (recorded messages, a long-poll for them, refused contents, callbacks, counters). The
fault queue's endpoints are shared with the fake WeChat (``faults``).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import web

from .fake_twilio_state import state_of


def _public(record: dict[str, Any]) -> dict[str, Any]:
    resource = dict(record["resource"])
    resource.update(
        content=record.get("content"),
        content_sid=record["content_sid"],
        content_variables=record["content_variables"],
        media_url=record["media_url"],
        status_callback=record["status_callback"],
    )
    return resource


async def sandbox_refuse_content(request: web.Request) -> web.Response:
    """``POST /_sandbox/refuse_content`` ``{"count": n}``: the next n calls using content (a
    Content create, or a message with a known ContentSid) are refused with a 400."""
    state = state_of(request)
    try:
        state.refuse_content += int((await request.json()).get("count", 1))
    except (ValueError, TypeError, AttributeError):
        return web.json_response({"error": "expected {\"count\": n}"}, status=400)
    return web.json_response({"refuse_content": state.refuse_content})


async def sandbox_contents(request: web.Request) -> web.Response:
    return web.json_response(list(state_of(request).contents.values()))


async def sandbox_messages(request: web.Request) -> web.Response:
    state = state_of(request)
    to = request.query.get("to")
    sender = request.query.get("from")
    items = [
        _public(record)
        for record in state.messages
        if (to is None or record["resource"]["to"] == to)
        and (sender is None or record["resource"]["from"] == sender)
    ]
    return web.json_response(items)


async def sandbox_wait(request: web.Request) -> web.Response:
    """Long-poll: answer once ``count`` messages to ``to`` are recorded, or after ``timeout`` s
    (``{"count": n, "reached": bool}``)."""
    state = state_of(request)
    to = request.query.get("to")
    try:
        count = int(request.query.get("count", "1"))
        timeout = min(float(request.query.get("timeout", "30")), 120.0)
    except ValueError:
        return web.json_response({"error": "count and timeout must be numbers"}, status=400)

    def recorded() -> int:
        return len(state.messages) if to is None else state.per_recipient.get(to, 0)

    with contextlib.suppress(asyncio.TimeoutError):
        await state.arrivals.wait(to, count, recorded, timeout)
    have = recorded()
    return web.json_response({"count": have, "reached": have >= count})


async def sandbox_clear_messages(request: web.Request) -> web.Response:
    state_of(request).messages.clear()
    state_of(request).per_recipient.clear()
    return web.json_response([])


async def sandbox_callbacks(request: web.Request) -> web.Response:
    return web.json_response(state_of(request).callbacks)


async def sandbox_stats(request: web.Request) -> web.Response:
    state = state_of(request)
    return web.json_response(
        {**state.stats, "messages": len(state.messages), "faults_pending": len(state.faults)}
    )


async def sandbox_health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "service": "fake-twilio"})

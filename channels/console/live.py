"""``/console/events``: the live stream of one signed-in staff member, and nothing more.

The stream once outlived its session (it kept streaming after sign-out) and sent a nurse every
case's events. Now the session is checked again before anything is sent (every batch of events
and every keep-alive tick): signed out, expired or disabled ends the stream with a
``signed-out`` event. An event is sent only when its case is in one of the user's queues, looked
up when it arrives (a transferred case follows its new queue); events naming no case the user may
see (a delivery report, a message of a conversation with no open case) are not sent. What is
sent is a topic and a case id: the page reloads and reads the rest with the user's rights.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select

from bot.cases.models import Case
from bot.console import users
from bot.db import read_connection
from bot.events import EventBus

TICK_SECONDS = 2.0  # keep-alive, session re-check and queue comparison
MAX_BATCH = 100

Write = Callable[[str], Awaitable[Any]]


def case_queue(case_id: int) -> str | None:
    """The queue a case is in now (``None``: no such case)."""
    with read_connection() as db:
        return db.execute(select(Case.queue).where(Case.id == case_id)).scalar()


def open_case(conversation_id: str) -> tuple[int, str] | None:
    """(id, queue) of a conversation's newest open case."""
    with read_connection() as db:
        row = db.execute(select(Case.id, Case.queue)
                         .where(Case.conversation_id == conversation_id,
                                Case.status != "closed")
                         .order_by(Case.id.desc()).limit(1)).first()
    return (row.id, row.queue) if row else None


def visible_case(payload: dict[str, Any], queues: tuple[str, ...]) -> int | None:
    """The id of the case an event is about, if it is in one of ``queues``."""
    case_id = payload.get("case") or payload.get("id")
    if isinstance(case_id, int):
        return case_id if case_queue(case_id) in queues else None
    conversation = payload.get("conversation")
    if isinstance(conversation, str) and conversation:
        found = open_case(conversation)
        if found is not None and found[1] in queues:
            return found[0]
    return None


def _drain(first: tuple[str, dict], queue: asyncio.Queue) -> list[tuple[str, dict]]:
    batch = [first]
    while len(batch) < MAX_BATCH:
        try:
            batch.append(queue.get_nowait())
        except asyncio.QueueEmpty:
            break
    return batch


async def stream(write: Write, token: str, bus: EventBus,
                 snapshot: Callable[[users.Account], tuple]) -> None:
    """Serve one subscriber until the session is gone (or the client leaves)."""
    subscription = bus.subscribe()
    try:
        account = users.account(token)
        if account is None:
            await write("event: signed-out\ndata: {}\n\n")
            return
        seen = snapshot(account)
        await write(": connected\n\n")
        while True:
            try:
                first = await asyncio.wait_for(subscription.get(), timeout=TICK_SECONDS)
                batch = _drain(first, subscription)
            except asyncio.TimeoutError:
                batch = []
            account = users.account(token)  # signed out, expired or disabled since?
            if account is None:
                await write("event: signed-out\ndata: {}\n\n")
                return
            sent: set[tuple[str, int]] = set()
            for topic, payload in batch:
                case_id = visible_case(payload, account.queues)
                if case_id is not None and (topic, case_id) not in sent:
                    sent.add((topic, case_id))
                    data = json.dumps({"topic": topic, "case": case_id})
                    await write(f"event: update\ndata: {data}\n\n")
            if batch:
                continue
            # Cases are opened by the action server (another process): compare the queue
            # with what this page showed.
            now = snapshot(account)
            if now != seen:
                seen = now
                await write('event: update\ndata: {"topic": "queue"}\n\n')
            else:
                await write(": keep-alive\n\n")
    finally:
        with contextlib.suppress(Exception):
            bus.unsubscribe(subscription)

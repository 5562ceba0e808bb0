"""Rasa's SQL tracker store, with the conversation kept in memory between turns.

Stock ``SQLTrackerStore.retrieve`` reads every event of the session and replays it into a new
tracker on every message, and ``save`` counts the stored events to find the new ones; both grow
with the conversation (a 200-turn chat spends most of its time there). This store keeps the
tracker it last saved for each conversation and hands the same object back when it is still
current, checked with one indexed query (the newest event id of the conversation): another
instance on the same database, or a turn that failed before saving, makes it reload from SQL as
stock Rasa does. Saving appends only the events past those it knows are stored.

Configured as a Rasa custom tracker store (``type: bot.dialogue.tracker_store.
CachedSQLTrackerStore`` in the endpoints), with the stock store's settings plus:

- ``cache_size``: conversations kept (least recently used go first);
- ``verify_reads``: check the database before trusting memory (default on). The product turns it
  off only in embedded mode, where this one core process is the only writer; memory is then
  re-checked after ``trust_seconds`` of a conversation's silence all the same;
- on SQLite, a pooled engine in WAL mode (stock opens a new connection per query).
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

logger = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL (readers never block the writer), fsync at checkpoints only, wait on locks."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


@dataclass
class _Known:
    """A tracker as it is in the database: its first ``stored`` events are saved, and the
    conversation's newest event row is ``last_id``."""

    tracker: DialogueStateTracker
    stored: int
    last_id: int
    checked_at: float = 0.0


class CachedSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` that serves a conversation's tracker from memory while current."""

    def __init__(self, *args: Any, cache_size: int = 200, verify_reads: bool = True,
                 trust_seconds: float = 300.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cache_size = int(cache_size)
        self.verify_reads = bool(verify_reads)
        self.trust_seconds = float(trust_seconds)
        self._known: OrderedDict[str, _Known] = OrderedDict()
        self._insert = self.SQLEvent.__table__.insert()
        # Asked for every conversation not in memory (each new one): built once, as a statement
        # SQLAlchemy caches (the ORM ``Query`` it replaces was rebuilt and compiled every time).
        self._last_id_query = sa.select(sa.func.max(self.SQLEvent.id)).where(
            self.SQLEvent.sender_id == sa.bindparam("sender"))
        # Conversations ``retrieve`` found no event for, and when (trusted for one turn only:
        # the conversation lock is held from that read to the turn's save).
        self._new: dict[str, float] = {}
        if self.engine.dialect.name == "sqlite":
            self._pool_sqlite()

    def _pool_sqlite(self) -> None:
        """Keep SQLite connections open (WAL, like the product database) instead of one per
        query: connecting dominated a cached turn's database time."""
        from sqlalchemy.orm import sessionmaker
        from sqlalchemy.pool import QueuePool

        url = self.engine.url
        self.engine.dispose()
        self.engine = sa.create_engine(url, poolclass=QueuePool, pool_size=4, max_overflow=4,
                                       connect_args={"check_same_thread": False})
        sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessionmaker = sessionmaker(bind=self.engine)

    def _last_id(self, session: Any, sender_id: str) -> int:
        value = session.execute(self._last_id_query, {"sender": sender_id}).scalar()
        return int(value or 0)

    def _fresh(self, known: _Known, session: Any | None = None) -> bool:
        """Whether the database still ends where this tracker does."""
        now = time.monotonic()
        if not self.verify_reads and now - known.checked_at < self.trust_seconds:
            return True
        if session is None:
            with self.session_scope() as own:
                last = self._last_id(own, known.tracker.sender_id)
        else:
            last = self._last_id(session, known.tracker.sender_id)
        known.checked_at = now
        return last == known.last_id  # else written elsewhere: another instance, a purge

    def _current(self, sender_id: str) -> _Known | None:
        known = self._known.get(sender_id)
        if known is None or len(known.tracker.events) != known.stored:
            return None  # never seen, or a turn changed it without saving: not trustworthy
        if not self._fresh(known):
            return None
        self._known.move_to_end(sender_id)
        return known

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The latest session's tracker: from memory when current, else from SQL."""
        known = self._current(sender_id)
        if known is not None:
            return known.tracker
        with self.session_scope() as session:
            last_id = self._last_id(session, sender_id)
        if not last_id:
            # No event at all: a new conversation (stock reads none and says so). Its first
            # saves then need not count what is stored: nothing was, a moment ago.
            if len(self._new) > 4 * self.cache_size:
                self._new.clear()  # probes for unknown ids must not grow memory
            self._new[sender_id] = time.monotonic()
            return None
        tracker = await super().retrieve(sender_id)
        if tracker is not None:
            self._remember(tracker, len(tracker.events), last_id)
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Append the events not stored yet (stock behaviour when the tracker is unknown)."""
        known = self._known.get(tracker.sender_id)
        found_empty = self._new.get(tracker.sender_id)
        if known is None and found_empty is not None and time.monotonic() - found_empty < 10:
            # ``retrieve`` found no event a moment ago: none of this tracker's is stored yet
            # (stock would count them to find that out).
            known = _Known(tracker, 0, 0, found_empty)
        with self.session_scope() as session:
            fast = (known is not None and known.tracker is tracker
                    and len(tracker.events) >= known.stored and self._fresh(known, session))
            if fast:
                await self.stream_events(tracker)
                new_events = list(itertools.islice(tracker.events, known.stored, None))
                if not new_events:
                    return
                last_id, rows = self._append(session, tracker.sender_id, new_events)
                self._new.pop(tracker.sender_id, None)
        if fast:
            self._remember(tracker, known.stored + len(new_events), last_id, new_events, rows)
            return
        await super().save(tracker)  # stock: counts what is stored, appends the rest
        with self.session_scope() as session:
            last_id = self._last_id(session, tracker.sender_id)
        self._remember(tracker, len(tracker.events), last_id, list(tracker.events))

    def _append(self, session: Any, sender_id: str, events: list[Any]
                ) -> tuple[int, list[dict[str, Any]]]:
        """Insert ``events`` (at least one) and commit; the newest row's id, and the rows.

        One statement, built once: all rows but the last in one batch, the last alone for its id
        (the conversation's newest event row, which ``_fresh`` compares against)."""
        rows = [self._row(sender_id, e) for e in events]
        if len(rows) > 1:
            session.execute(self._insert, rows[:-1])
        last_id = session.execute(self._insert, rows[-1]).inserted_primary_key[0]
        session.commit()
        return int(last_id), rows

    @staticmethod
    def _row(sender_id: str, event: Any) -> dict[str, Any]:
        """One ``events`` row's values, exactly as the stock store writes them."""
        data = event.as_dict()
        return {
            "sender_id": sender_id,
            "type_name": event.type_name,
            "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            "action_name": data.get("name"),
            "data": json.dumps(data),
        }

    def _remember(self, tracker: DialogueStateTracker, stored: int, last_id: int,
                  new_events: list[Any] | None = None,
                  rows: list[dict[str, Any]] | None = None) -> None:
        new_events = new_events or []
        first = stored - len(new_events)  # position of new_events[0] in the conversation
        if any(isinstance(e, SessionStarted) and first + i > 0 for i, e in enumerate(new_events)):
            # A new session began after other events: stock Rasa reads only the new session
            # back. Rebuilt here from the rows just written, as stock would read them, or
            # else read from SQL next time.
            session_tracker = self._as_stock_reads(tracker, first, new_events, rows or [])
            if session_tracker is None:
                self._known.pop(tracker.sender_id, None)
                return
            tracker, stored = session_tracker, len(session_tracker.events)
        self._known[tracker.sender_id] = _Known(tracker, stored, last_id, time.monotonic())
        self._known.move_to_end(tracker.sender_id)
        while len(self._known) > self.cache_size:
            self._known.popitem(last=False)

    def _as_stock_reads(self, tracker: DialogueStateTracker, first: int, new_events: list[Any],
                        rows: list[dict[str, Any]]) -> DialogueStateTracker | None:
        """The tracker stock ``retrieve`` would build now: the rows from the latest session
        start on (by timestamp, in id order), decoded from the JSON just stored and replayed
        with ``from_dict``; ``None`` when that cannot be told from this batch (an earlier
        event's timestamp reaches into the new session, or no domain)."""
        if self.domain is None or len(rows) != len(new_events):
            return None
        start = max(e.timestamp for e in new_events if isinstance(e, SessionStarted))
        earlier = itertools.islice(tracker.events, 0, first)
        if any(e.timestamp >= start for e in earlier):
            return None
        events = [json.loads(row["data"]) for row in rows if row["timestamp"] >= start]
        return DialogueStateTracker.from_dict(tracker.sender_id, events, self.domain.slots)

"""Rasa's tracker store, read and trimmed directly: its ``events`` table, not its Python API.

The SQL tracker store loads and saves whole conversations; a purge needs "every event older than
a date, of every conversation", which only SQL on the table does in one pass. The columns are
those of ``rasa.core.tracker_store.SQLTrackerStore.SQLEvent`` (Rasa 3.6); ``timestamp`` is Unix
seconds (UTC) and ``data`` the event as JSON. ``tests/test_records.py`` checks the table against a
tracker Rasa itself wrote, so a schema change in Rasa fails a test rather than a purge.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    func,
    inspect,
    select,
)
from sqlalchemy.engine import Engine, make_url

from bot.records.conversations import chunks


def events_table(schema: str | None = None) -> Table:
    """The ``events`` table as Rasa defines it (``schema``: Rasa's ``POSTGRESQL_SCHEMA``)."""
    return Table(
        "events",
        MetaData(schema=schema),
        Column("id", Integer, primary_key=True),
        Column("sender_id", String(255), nullable=False, index=True),
        Column("type_name", String(255), nullable=False),
        Column("timestamp", Float),
        Column("intent_name", String(255)),
        Column("action_name", String(255)),
        Column("data", Text),
    )


class TrackerEvents:
    """The tracker store's events: which conversations have old ones, delete, read per sender."""

    def __init__(self, engine: Engine, table: Table) -> None:
        self.engine = engine
        self.table = table

    @classmethod
    def open(cls, url: str) -> TrackerEvents | None:
        """The store at ``url``; ``None`` when it was never created (a fresh install: no events).

        A missing SQLite file is not created, so a purge or export never leaves an empty store
        behind that Rasa would then find without its indexes.
        """
        parsed = make_url(url)
        sqlite = parsed.drivername.startswith("sqlite")
        if sqlite and not (parsed.database and Path(parsed.database).is_file()):
            return None
        postgresql = parsed.drivername.startswith("postgresql")
        schema = os.environ.get("POSTGRESQL_SCHEMA") if postgresql else None
        engine = create_engine(url, future=True)
        if not inspect(engine).has_table("events", schema=schema):
            engine.dispose()
            return None
        return cls(engine, events_table(schema))

    def close(self) -> None:
        """Release the connections (the command runs once; the servers keep their own pools)."""
        self.engine.dispose()

    def senders_with_events_before(self, timestamp: float) -> set[str]:
        """Conversations that have at least one event older than ``timestamp``."""
        events = self.table.c
        with self.engine.connect() as connection:
            return set(
                connection.execute(
                    select(events.sender_id).where(events.timestamp < timestamp).distinct()
                ).scalars()
            )

    def purge_before(self, timestamp: float, senders: Iterable[str], dry_run: bool) -> int:
        """Delete (or count) the events older than ``timestamp`` of ``senders``.

        One commit per chunk of senders keeps each write short, so a live SQLite store is never
        locked for long.
        """
        events = self.table.c
        total = 0
        for batch in chunks(sorted(senders)):
            condition = (events.timestamp < timestamp) & events.sender_id.in_(batch)
            with self.engine.begin() as connection:
                if dry_run:
                    total += connection.execute(
                        select(func.count()).select_from(self.table).where(condition)
                    ).scalar_one()
                else:
                    total += connection.execute(delete(self.table).where(condition)).rowcount
        return total

    def has_sender(self, sender: str) -> bool:
        """Whether the store holds a conversation under this sender id."""
        with self.engine.connect() as connection:
            return connection.execute(
                select(self.table.c.id).where(self.table.c.sender_id == sender).limit(1)
            ).first() is not None

    def events_of(self, senders: Iterable[str]) -> list[dict[str, Any]]:
        """Every event of ``senders``, oldest first, with ``data`` decoded."""
        events = self.table.c
        rows: list[dict[str, Any]] = []
        with self.engine.connect() as connection:
            for batch in chunks(sorted(set(senders))):
                result = connection.execute(
                    select(self.table).where(events.sender_id.in_(batch))
                ).mappings()
                rows.extend(dict(row) for row in result)
        rows.sort(key=lambda row: (row["sender_id"], row["timestamp"] or 0, row["id"]))
        for row in rows:
            with contextlib.suppress(ValueError):  # not ours to judge: export it as stored
                row["data"] = json.loads(row["data"]) if row["data"] else None
        return rows

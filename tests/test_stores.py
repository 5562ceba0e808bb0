"""Store selection (SMO_STORES) and the schema command, on throw-away SQLite files."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from bot import stores
from bot.stores import migrate


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("SMO_STORES", "SMO_DATABASE_URL", "SMO_TRACKER_DB_URL", "SMO_REDIS_URL",
                 "SMO_POSTGRES_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SMO_VAR_DIR", str(tmp_path))
    return tmp_path


def test_embedded_is_the_default(clean_env: Path) -> None:
    assert stores.mode() == "embedded"
    assert stores.database_url() == f"sqlite:///{clean_env / 'smo.db'}"
    assert stores.tracker_url() == f"sqlite:///{clean_env / 'tracker.db'}"
    assert stores.redis_url() is None


def test_one_setting_moves_every_store(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMO_STORES", "shared")
    assert stores.database_url() == stores.tracker_url() == stores.DEFAULT_POSTGRES_URL
    assert stores.redis_url() == stores.DEFAULT_REDIS_URL
    monkeypatch.setenv("SMO_TRACKER_DB_URL", "postgresql://u:secret@db/transcripts")
    assert stores.tracker_url().endswith("/transcripts")  # a specific URL still wins
    assert "secret" not in str(stores.describe())  # passwords never shown


def test_unknown_mode_is_a_clear_error(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMO_STORES", "cluster")
    with pytest.raises(stores.StoresError, match="embedded, shared"):
        stores.mode()


def test_migrate_creates_then_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert migrate.upgrade_product_database(url) == migrate.head()
    assert migrate.upgrade_product_database(url) == migrate.head()
    tables = set(inspect(create_engine(url)).get_table_names())
    assert {"cases", "inbound_messages", "outbound_messages", "console_users",
            "alembic_version"} <= tables


def test_migrate_makes_the_folder_of_a_fresh_checkout(tmp_path: Path) -> None:
    """``make run`` on a fresh clone: ``var/`` does not exist yet (SQLite makes the file only)."""
    folder = tmp_path / "var" / "nested"
    url = f"sqlite:///{folder / 'smo.db'}"
    assert migrate.upgrade_product_database(url) == migrate.head()
    assert (folder / "smo.db").is_file()
    assert "cases" in inspect(create_engine(url)).get_table_names()


def test_database_from_before_migrations_is_stamped_not_dropped(tmp_path: Path) -> None:
    from bot.db import Base

    url = f"sqlite:///{tmp_path / 'legacy.db'}"
    engine = create_engine(url)
    migrate.import_models()
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO customers (id, name, date_of_birth) VALUES (1, 'Old Row', '1980-01-01')")
    with pytest.raises(stores.StoresError, match="python -m bot.stores migrate"):
        migrate.check_schema(engine)
    assert migrate.upgrade_product_database(url) == migrate.head()
    migrate.check_schema(engine)  # now at this release's revision
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT name FROM customers").scalar() == "Old Row"


def test_migrations_build_exactly_the_models_schema(tmp_path: Path) -> None:
    """What ``migrate`` creates is what the code declares (no forgotten migration)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from bot.db import Base

    url = f"sqlite:///{tmp_path / 'schema.db'}"
    migrate.upgrade_product_database(url)
    migrate.import_models()
    with create_engine(url).connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_a_customers_unanswered_messages_are_found_by_index(tmp_path: Path) -> None:
    """The worker's query must not read the customer's whole history (it did with the sender
    index alone, so answers slowed as a conversation grew)."""
    from sqlalchemy.dialects import sqlite

    from channels.core.store import _OLDEST_UNANSWERED

    query = _OLDEST_UNANSWERED.params(c="whatsapp", s="x").compile(
        dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    migrate.upgrade_product_database(url)
    with create_engine(url).connect() as connection:
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}").all()
    assert "ix_inbound_messages_unanswered (sender=? AND status=? AND channel=?)" in str(plan)


def test_inserts_ignoring_duplicates_store_what_the_plain_insert_stores(tmp_path: Path) -> None:
    """The once-compiled ``ON CONFLICT DO NOTHING`` (bot.db) writes rows exactly as SQLAlchemy's
    own insert does (dates, JSON, nulls), skips duplicates, and works in both kinds of
    transaction."""
    from datetime import datetime

    from sqlalchemy import select

    from bot.db import (
        Base,
        _compiled_insert_ignoring,
        insert_ignoring_duplicates,
        session,
        transaction,
    )
    from channels.core.models import Contact, OutboundMessage

    url = f"sqlite:///{tmp_path / 'ignore.db'}"
    Base.metadata.create_all(create_engine(url))
    now = datetime(2026, 11, 27, 21, 30, 15, 123456)
    contacts = Contact.__table__
    row = {"channel": "whatsapp", "sender": "whatsapp:+85291234567", "last_inbound_at": now,
           "options": [["1", "是 ✓"]], "subscribed": 1}
    assert type(_compiled_insert_ignoring(contacts, tuple(row))).__name__ == "TextClause"
    with transaction(url) as db:
        assert insert_ignoring_duplicates(db, contacts, [row]) == 1
        assert insert_ignoring_duplicates(db, contacts, [row]) == 0  # the same key again
    with session(url) as db:  # the ORM session takes the same path
        assert insert_ignoring_duplicates(db, contacts, [{**row, "sender": "b"}]) == 1
        db.execute(contacts.insert(), [{**row, "sender": "c"}])  # SQLAlchemy's own insert
    with create_engine(url).connect() as connection:
        stored = {r.sender: r for r in connection.execute(select(contacts))}
        raw = dict(connection.exec_driver_sql(
            "SELECT sender, last_inbound_at || '|' || options FROM channel_contacts").all())
    assert len(stored) == 3
    assert stored["whatsapp:+85291234567"].last_inbound_at == now
    assert stored["whatsapp:+85291234567"].options == [["1", "是 ✓"]]
    assert raw["whatsapp:+85291234567"] == raw["b"] == raw["c"]  # stored byte for byte alike
    # Rows that leave out a column with a Python-side default keep the ordinary statement, and
    # so do rows whose keys differ (SQLAlchemy's statement then decides, as before).
    outbox = OutboundMessage.__table__
    assert _compiled_insert_ignoring(outbox, ("channel", "recipient")) is None
    with transaction(url) as db, pytest.raises(Exception, match="(?i)bind|key|param"):
        insert_ignoring_duplicates(db, contacts, [{**row, "sender": "d"},
                                                  {"channel": "whatsapp", "sender": "e"}])

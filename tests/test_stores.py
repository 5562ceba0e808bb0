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

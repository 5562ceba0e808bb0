"""Create or migrate every store's schema, for whichever ``SMO_STORES`` mode is configured.

- The product database: Alembic migrations in ``bot/stores/alembic/versions``. A PostgreSQL
  database that does not exist yet is created first. A database made by an earlier release with
  ``create_all`` (no version table) is brought up to date and stamped, never dropped.
- The tracker store: Rasa's ``SQLTrackerStore`` owns its table and creates it itself.
- Redis (shared mode): checked reachable, nothing to create.
Safe to run again and from several instances at once (PostgreSQL serialises on an advisory lock).
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine, make_url

from bot import stores

logger = logging.getLogger(__name__)
SCRIPTS = Path(__file__).resolve().parent / "alembic"
ADVISORY_LOCK = 0x534D4F  # "SMO": one migrator at a time on a shared PostgreSQL


def import_models() -> None:
    """Register every table on ``Base.metadata`` (the migrations' and ``create_all``'s target)."""
    import bot.cases.models  # noqa: F401
    import bot.console.users  # noqa: F401
    import bot.policies.models  # noqa: F401
    import channels.core.kv  # noqa: F401
    import channels.core.models  # noqa: F401


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The newest schema revision this code expects."""
    return ScriptDirectory(str(SCRIPTS)).get_current_head() or ""


def current(connection: Connection) -> str | None:
    """The revision a database is at (``None``: never migrated)."""
    return MigrationContext.configure(connection).get_current_revision()


def ensure_database(url: str) -> None:
    """Create a PostgreSQL database that does not exist yet. A SQLite file would create itself
    (with the umask's mode), but not its folder: on a fresh checkout ``var/`` does not exist
    until this makes it, private, and the file with it."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        from bot.stores.files import private_sqlite

        private_sqlite(url)  # made 0600 (folder 0700): it holds policies and consents
        return
    if not parsed.drivername.startswith("postgresql"):
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT",
                          future=True)
    try:
        with admin.connect() as connection:
            exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                        {"name": parsed.database}).scalar()
            if not exists:
                connection.exec_driver_sql(f'CREATE DATABASE "{parsed.database}"')
                logger.info("created database %s", parsed.database)
    finally:
        admin.dispose()


def upgrade_product_database(url: str) -> str:
    """Bring the product database to the head revision; returns the revision."""
    ensure_database(url)
    engine: Engine = create_engine(url, future=True)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": ADVISORY_LOCK})
            config = _config(connection)
            if current(connection) is None and _has_product_tables(connection):
                # Made by create_all before migrations existed: add what is missing, then stamp.
                import_models()
                from bot.db import Base

                Base.metadata.create_all(connection)
                command.stamp(config, "head")
            else:
                command.upgrade(config, "head")
            return current(connection) or ""
    finally:
        engine.dispose()


def _has_product_tables(connection: Connection) -> bool:
    return "cases" in inspect(connection).get_table_names()


def ensure_tracker_store(url: str) -> None:
    """Let Rasa's SQL tracker store create its own table (and PostgreSQL database)."""
    from rasa.core.tracker_store import TrackerStore

    from bot.core_server import tracker_endpoint

    ensure_database(url)
    store = TrackerStore.create(tracker_endpoint(url))
    store.engine.dispose()


def check_redis(url: str) -> None:
    """Fail clearly when Redis is configured but not reachable."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        client.ping()
    finally:
        client.close()


def migrate_all() -> dict[str, str]:
    """Everything ``python -m bot.stores migrate`` does; returns what was done, for printing."""
    done = {"mode": stores.mode()}
    done["database"] = f"at revision {upgrade_product_database(stores.database_url())}"
    ensure_tracker_store(stores.tracker_url())
    done["tracker"] = "table ready"
    redis_url = stores.redis_url()
    if redis_url:
        check_redis(redis_url)
        done["redis"] = "reachable"
    return done


def check_schema(engine: Engine) -> None:
    """Refuse to run on a database whose schema is not the one this code expects."""
    with engine.connect() as connection:
        revision = current(connection)
    if revision != head():
        raise stores.StoresError(
            f"the database at {engine.url.render_as_string(hide_password=True)} is at schema "
            f"revision {revision or 'none'}, this release needs {head()}: "
            "run `python -m bot.stores migrate`"
        )

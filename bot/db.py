"""The product's own database (policies, consents, cases, audit): SQLAlchemy, SQLite by default.

Where it lives is decided in :mod:`bot.stores` (``SMO_STORES=shared`` puts it on PostgreSQL).
Separate from Rasa's tracker store on purpose: the tracker holds the transcript, this holds the
business records. SQLite creates its tables on first use (nothing to run on a laptop); a shared
database must be at this release's schema revision (``python -m bot.stores migrate``).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, declarative_base, sessionmaker
from sqlalchemy.pool import QueuePool

Base = declarative_base()


def database_url() -> str:
    """The product database's URL (see :func:`bot.stores.database_url`)."""
    from bot import stores

    return stores.database_url()


def sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API objects
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the one writer
    # WAL + NORMAL: a commit survives a crash of our process (kill -9) but skips the fsync per
    # commit, which costs milliseconds on every webhook; only an OS crash could lose the last ones.
    cursor.execute("PRAGMA synchronous=NORMAL")
    # No checkpoint inside a commit (it would stall whichever request committed); the channel
    # runtime checkpoints in the background, and SQLite does on the last close.
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.execute("PRAGMA busy_timeout=5000")  # two processes (server, actions) share the file
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# What ``database_url()`` depends on: the URL is worked out again only when one of these changes
# (every transaction asks for the engine; building the path each time showed in profiles).
_URL_SETTINGS = ("SMO_DATABASE_URL", "SMO_STORES", "SMO_POSTGRES_URL", "SMO_VAR_DIR")


def engine(url: str | None = None) -> Engine:
    """A pooled engine per URL (default: ``database_url()`` now); the schema is created once."""
    return _engine(url or _default_url(tuple(map(os.environ.get, _URL_SETTINGS))))


@lru_cache(maxsize=8)
def _default_url(_settings: tuple[str | None, ...]) -> str:
    return database_url()


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        from bot.stores.files import private_sqlite

        private_sqlite(url)  # 0600 before SQLite makes it (its -wal and -shm follow its mode)
        # A pool of open connections: SQLAlchemy 1.4 would open (and set pragmas on) a new SQLite
        # connection per transaction, which profiling showed to dominate the webhook path.
        eng = create_engine(url, future=True, connect_args={"check_same_thread": False},
                            poolclass=QueuePool, pool_size=8, max_overflow=8)
        event.listen(eng, "connect", sqlite_pragmas)
        from bot.stores.migrate import import_models

        import_models()
        Base.metadata.create_all(eng)
    else:
        from bot.stores.migrate import check_schema

        eng = create_engine(url, future=True, pool_pre_ping=True, pool_size=10, max_overflow=10)
        check_schema(eng)
    return eng


def checkpoint(url: str | None = None) -> None:
    """Fold the SQLite write-ahead log back into the database (no-op elsewhere)."""
    eng = engine(url)
    if eng.dialect.name == "sqlite":
        with eng.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


@lru_cache(maxsize=8)
def _factory(eng: Engine) -> sessionmaker:
    return sessionmaker(bind=eng, future=True, expire_on_commit=False)


def insert_ignoring_duplicates(db: Any, table: Any, rows: list[dict[str, Any]]) -> int:
    """Insert rows, skipping any that collide with a unique key (PostgreSQL and SQLite's
    ``ON CONFLICT DO NOTHING``), inside the caller's transaction (a ``session()`` or a
    ``transaction()``); returns how many were new."""
    if not rows:
        return 0
    dialect = (db.dialect if hasattr(db, "dialect") else db.get_bind().dialect).name
    keys = tuple(rows[0])
    statement = None
    if dialect == "sqlite" and all(row.keys() == rows[0].keys() for row in rows):
        statement = _compiled_insert_ignoring(table, keys)
    result = db.execute(statement if statement is not None else
                        _insert_ignoring(table, dialect), rows)
    return max(result.rowcount, 0)


@lru_cache(maxsize=64)
def _insert_ignoring(table: Any, dialect: str) -> Any:
    """SQLAlchemy's statement, built once per table and dialect."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing()


@lru_cache(maxsize=64)
def _compiled_insert_ignoring(table: Any, keys: tuple[str, ...]) -> Any:
    """On SQLite, the statement for rows with ``keys``, compiled once (None: not possible).

    SQLAlchemy 1.4 caches no ``ON CONFLICT`` statement's compiled form (its dialect ``Insert``
    sets ``inherit_cache = False``), so each run compiled it again: a tenth of a webhook's time
    for a new customer, and again for every reply queued. Here it is compiled once, to SQL with
    named parameters typed as the table's columns (JSON and dates are converted as before). A
    column the rows leave out that has a Python-side default would not get it that way: then
    the ordinary statement is used, as on PostgreSQL (whose compiler adds the key column from
    its sequence), and for rows whose keys differ (SQLAlchemy's statement decides, as before).
    """
    from sqlalchemy import bindparam, text
    from sqlalchemy.dialects.sqlite.pysqlite import dialect as sqlite_dialect

    if not keys or any(column.default is not None for column in table.c
                       if column.key not in keys):
        return None
    sql = _insert_ignoring(table, "sqlite").values({key: bindparam(key) for key in keys}).compile(
        dialect=sqlite_dialect(paramstyle="named"))
    return text(str(sql)).bindparams(*(bindparam(key, type_=table.c[key].type) for key in keys))


# SQLite has one writer at a time, and a writer that finds the file locked sleeps in steps of
# 10-100 ms before retrying. Inside one process (the gateway's web loop and its channel runtime)
# transactions therefore take turns on this lock instead: a waiting acknowledgement is woken the
# moment the other transaction commits. Transactions are short and never await.
_SQLITE_TURN = threading.RLock()


def _writers_turn(eng: Engine) -> Any:
    """The lock a writing transaction holds: SQLite's one writer at a time, none elsewhere."""
    return _SQLITE_TURN if eng.dialect.name == "sqlite" else contextlib.nullcontext()


@contextmanager
def session(url: str | None = None) -> Iterator[Session]:
    """A transaction: committed on success, rolled back on error."""
    eng = engine(url)
    with _writers_turn(eng), _factory(eng)() as db:
        try:
            yield db
            db.commit()
        except BaseException:
            db.rollback()
            raise


@contextmanager
def transaction(url: str | None = None) -> Iterator[Any]:
    """A transaction on a plain connection (SQLAlchemy Core): committed on success, rolled
    back on error; SQLite's writers take turns as in :func:`session`. For statements that need
    no ORM (the channel runtime's): the ORM session's own set-up and tear-down was half the cost
    of a short transaction here (130 against 65 µs)."""
    eng = engine(url)
    with _writers_turn(eng), eng.begin() as connection:
        yield connection


@contextmanager
def read_connection(url: str | None = None) -> Iterator[Any]:
    """A plain connection for reads (no writers' turn, as :func:`read_session`), returning
    rows instead of ORM objects: loading an ORM object cost twice the query here."""
    with engine(url).connect() as connection:  # closing returns it to the pool (rolled back)
        yield connection


@contextmanager
def read_session(url: str | None = None) -> Iterator[Session]:
    """A read-only transaction. On SQLite (WAL) readers never wait for the writer, so this does
    not take the writers' turn: a background read never holds up a webhook's write."""
    with _factory(engine(url))() as db:  # closing returns the connection (pool rolls back)
        yield db

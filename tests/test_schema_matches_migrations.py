"""The tables the code declares are exactly the tables the newest migration builds. Fast.

A database is migrated to the head revision the way ``python -m bot.stores migrate`` does it, then
compared with the SQLAlchemy models two ways:

- Alembic's own comparison (what ``alembic revision --autogenerate`` would write): tables,
  columns, their types and nullability, named indexes, foreign keys. It must find nothing.
- Unique constraints, unique indexes and primary keys, compared both ways by their columns.
  Alembic never reports a dropped unique constraint it cannot name, and on SQLite none has a name:
  the outbox's dedup constraint (a reply is sent at most once) removed from the model while the
  migration kept it went unnoticed by the comparison alone.

On SQLite (embedded) always; on PostgreSQL (shared) too when one answers on 127.0.0.1:5432, in a
throwaway database dropped afterwards.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Index, MetaData, UniqueConstraint, create_engine, inspect, text

from bot.db import Base
from bot.stores import migrate

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
VERSION_TABLE = "alembic_version"


def _postgres() -> Iterator[str]:
    try:
        admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT",
                              connect_args={"connect_timeout": 2})
        with admin.connect():
            pass
    except Exception as exc:  # noqa: BLE001 - no server: the SQLite run still checks
        pytest.skip(f"no PostgreSQL at 127.0.0.1:5432 ({type(exc).__name__})")
    name = f"smo_schema_{secrets.token_hex(4)}"
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """An engine on a database the migrations brought to the head revision."""
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{tmp_path / 'schema.db'}"])
    else:
        urls = _postgres()
    url = next(urls)
    assert migrate.upgrade_product_database(url) == migrate.head()
    migrate.import_models()
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        next(urls, None)  # drops the PostgreSQL database


def declared() -> MetaData:
    return Base.metadata


def _columns(names: Any) -> frozenset[str]:
    """A key's columns (their order does not change what is unique)."""
    return frozenset(names)


def model_keys(metadata: MetaData) -> dict[str, dict[str, set[frozenset[str]]]]:
    """Per table: its unique column sets (constraints and unique indexes) and primary key."""
    keys: dict[str, dict[str, set[frozenset[str]]]] = {}
    for table in metadata.tables.values():
        unique = {_columns(c.name for c in constraint.columns)
                  for constraint in table.constraints if isinstance(constraint, UniqueConstraint)}
        unique |= {_columns(c.name for c in index.columns)
                   for index in table.indexes if isinstance(index, Index) and index.unique}
        unique |= {_columns([c.name]) for c in table.columns if c.unique}
        keys[table.name] = {"unique": unique,
                            "primary": {_columns(c.name for c in table.primary_key.columns)}}
    return keys


def database_keys(engine: Any) -> dict[str, dict[str, set[frozenset[str]]]]:
    """The same, as the migrated database has them."""
    inspector = inspect(engine)
    keys = {}
    for table in inspector.get_table_names():
        if table == VERSION_TABLE:
            continue
        unique = {_columns(u["column_names"]) for u in inspector.get_unique_constraints(table)}
        unique |= {_columns(i["column_names"]) for i in inspector.get_indexes(table)
                   if i.get("unique")}
        primary = {_columns(inspector.get_pk_constraint(table)["constrained_columns"])}
        keys[table] = {"unique": unique, "primary": primary}
    return keys


def test_alembic_finds_nothing_to_migrate(migrated: Any) -> None:
    with migrated.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, declared())
    assert differences == [], (
        "the models and the newest migration disagree; write a migration "
        f"(python -m alembic revision --autogenerate) or fix the model: {differences}")


def test_unique_constraints_and_keys_match_both_ways(migrated: Any) -> None:
    in_models, in_database = model_keys(declared()), database_keys(migrated)
    assert sorted(in_models) == sorted(in_database)
    for table in in_models:
        for kind in ("unique", "primary"):
            missing = in_database[table][kind] - in_models[table][kind]
            extra = in_models[table][kind] - in_database[table][kind]
            assert not missing, (
                f"{table}: the migration has {kind} {sorted(map(sorted, missing))}, the model not")
            assert not extra, (
                f"{table}: the model has {kind} {sorted(map(sorted, extra))}, the migration not")


def test_the_outbox_keeps_its_dedup_constraint(migrated: Any) -> None:
    """The finding this file answers: a reply is queued at most once per message and position."""
    assert frozenset({"channel", "dedup_key"}) in database_keys(migrated)["outbound_messages"][
        "unique"]
    assert frozenset({"channel", "dedup_key"}) in model_keys(declared())["outbound_messages"][
        "unique"]

"""Alembic environment for the product database (run through ``python -m bot.stores migrate``).

The connection comes from :func:`bot.stores.migrate.upgrade`, never from an ini file, so the
migration always targets the database the product itself would use.
"""

from __future__ import annotations

from alembic import context

from bot.db import Base
from bot.stores.migrate import import_models

import_models()
connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()

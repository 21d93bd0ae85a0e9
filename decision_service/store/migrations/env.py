"""Alembic environment: runs on the connection handed over by ``migrate.py``.

That connection is already inside a transaction holding the migration lock, so
Alembic must not open one of its own (``begin_transaction`` is a no-op then) and
every revision plus the version-table update commit together.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("apply these migrations with decision_service.store.migrate")

context.configure(
    connection=connection,
    # SQLite can't ALTER most things; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()

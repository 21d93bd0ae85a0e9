"""Apply the schema migrations (Alembic) when a store is opened.

Safe when several processes open the same database at once: the whole upgrade
runs in one transaction that first takes a lock (SQLite: ``BEGIN IMMEDIATE``,
PostgreSQL: a transaction-scoped advisory lock), so the second process waits,
then finds ``alembic_version`` at head and does nothing.  Re-running is a no-op.

SQLAlchemy is only used here, as Alembic's connection layer; the stores talk to
sqlite3 / psycopg directly to control transactions and locks precisely.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from .errors import StoreError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Second key of pg_advisory_xact_lock(int, int); distinct from the chain lock's.
PG_MIGRATION_LOCK_CLASS = 0x44534D47  # "DSMG"


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision shipped with this package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None  # at least one revision ships with the package
    return head


def upgrade_sqlite(connect: Callable[[], sqlite3.Connection]) -> None:
    """Bring the SQLite file to head; ``connect`` must return an autocommit connection."""
    engine = create_engine("sqlite://", creator=connect, poolclass=NullPool)

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn: Connection) -> None:
        # Take the write lock up front: a deferred BEGIN would let two processes
        # both read "no version" before either writes.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    try:
        with engine.begin() as conn:
            command.upgrade(_config(conn), "head")
    except (SQLAlchemyError, CommandError) as exc:
        raise StoreError(f"schema migration failed: {exc}") from exc
    finally:
        engine.dispose()


def upgrade_postgres(connect: Callable[[], psycopg.Connection[Any]], schema: str | None) -> None:
    """Bring the schema (created if missing) to head under an advisory lock."""
    engine = create_engine("postgresql+psycopg://", creator=connect, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:cls, hashtext(:name))"),
                {"cls": PG_MIGRATION_LOCK_CLASS, "name": schema or ""},
            )
            if schema is not None and not _schema_exists(conn, schema):
                # Under the lock: concurrent CREATE SCHEMA IF NOT EXISTS can still
                # fail on the catalog's unique index.  Only when missing: a role
                # without CREATE on the database may use a schema made for it.
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            command.upgrade(_config(conn), "head")
    except (SQLAlchemyError, CommandError) as exc:
        raise StoreError(f"schema migration failed: {exc}") from exc
    finally:
        engine.dispose()


def _schema_exists(conn: Connection, schema: str) -> bool:
    found = conn.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :name"),
                         {"name": schema}).first()
    return found is not None

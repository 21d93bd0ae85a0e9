"""Alembic migrations of the decision log, shipped inside the package.

They are applied by ``decision_service.store.migrate`` whenever a store is opened;
there is no alembic.ini.  To change the schema, add ``versions/vNNNN_<what>.py``
with ``revision = "NNNN"`` and ``down_revision`` set to the previous number, using
``op`` calls that work on both SQLite and PostgreSQL (``env.py`` turns on batch
mode for SQLite, so ``with op.batch_alter_table(...)`` is the way to alter a table).
"""

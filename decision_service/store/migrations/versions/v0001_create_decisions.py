"""Create the decisions table (the hash-chained log) and its indexes.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None

# SQLite keeps timestamps, dates and JSON as text (ISO 8601 sorts correctly);
# PostgreSQL gets native types.  ``json`` (not jsonb) keeps the text verbatim.
_TIMESTAMP = sa.Text().with_variant(postgresql.TIMESTAMP(timezone=True), "postgresql")
_DATE = sa.Text().with_variant(sa.Date(), "postgresql")
_JSON = sa.Text().with_variant(postgresql.JSON(), "postgresql")
# "INTEGER PRIMARY KEY" makes seq SQLite's rowid: the chain order is the table order.
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "decisions",
        # Chain position, assigned by the writer as tip + 1 under the chain lock.
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=False),
        sa.Column("decision_id", sa.Text(), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("policy_version", sa.Text(), nullable=False),
        sa.Column("bundle_hash", sa.Text(), nullable=False),
        sa.Column("engine", sa.Text(), nullable=False),
        sa.Column("decided_at", _TIMESTAMP, nullable=False),
        sa.Column("decision_date", _DATE, nullable=False),
        sa.Column("request_id", sa.Text(), nullable=True),
        sa.Column("input", _JSON, nullable=False),
        sa.Column("output", _JSON, nullable=False),
        sa.Column("reasons", _JSON, nullable=False),
        sa.Column("agg_key", sa.Text(), nullable=True),
        sa.Column("agg_amount", sa.Double(), nullable=True),
        sa.Column("prev_hash", sa.Text(), nullable=False),
        sa.Column("record_hash", sa.Text(), nullable=False),
        sa.UniqueConstraint("decision_id", name="uq_decisions_decision_id"),
        # Two records can never link to the same predecessor: even a bug that
        # skipped the chain lock could not fork the chain, only fail an insert.
        sa.UniqueConstraint("prev_hash", name="uq_decisions_prev_hash"),
    )
    op.create_index(
        "ix_decisions_agg",
        "decisions",
        ["agg_key", "decision_date"],
        sqlite_where=sa.text("agg_key IS NOT NULL"),
        postgresql_where=sa.text("agg_key IS NOT NULL"),
    )
    op.create_index("ix_decisions_decided_at", "decisions", ["decided_at"])


def downgrade() -> None:
    op.drop_table("decisions")

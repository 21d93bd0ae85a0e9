"""Idempotency keys and deal subjects on the decision log.

``idempotency_key`` (unique): a client's retry of the same request is answered
from the record it made instead of deciding again; ``request_hash`` tells a retry
from the key reused for another request.  ``agg_subject`` (a deal): only the
latest record of a subject counts towards the A10 totals.

Revision ID: 0002
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("decisions", sa.Column("agg_subject", sa.Text(), nullable=True))
    op.add_column("decisions", sa.Column("idempotency_key", sa.Text(), nullable=True))
    op.add_column("decisions", sa.Column("request_hash", sa.Text(), nullable=True))
    # Unique: even two workers racing with one key could not both log a decision
    # (the writer checks keys under the chain lock; this is the backstop).
    op.create_index("uq_decisions_idempotency_key", "decisions", ["idempotency_key"],
                    unique=True,
                    sqlite_where=sa.text("idempotency_key IS NOT NULL"),
                    postgresql_where=sa.text("idempotency_key IS NOT NULL"))
    # "Is there a later record of this subject?" for each record the totals read.
    op.create_index("ix_decisions_subject", "decisions", ["agg_subject", "seq"],
                    sqlite_where=sa.text("agg_subject IS NOT NULL"),
                    postgresql_where=sa.text("agg_subject IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_decisions_subject", "decisions")
    op.drop_index("uq_decisions_idempotency_key", "decisions")
    op.drop_column("decisions", "request_hash")
    op.drop_column("decisions", "idempotency_key")
    op.drop_column("decisions", "agg_subject")

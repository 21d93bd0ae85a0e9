"""Keep every policy bundle that decided, and the signed checkpoints of the chain.

``bundles``: the exact policy texts behind a ``bundle_hash``, so ``replay``
decides again with the bundle that decided, whatever was edited since.
``checkpoints``: a copy of each signed chain head (the anchor that proves the
log whole is kept outside the database too; this copy is for reading).

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None

_TIMESTAMP = sa.Text().with_variant(postgresql.TIMESTAMP(timezone=True), "postgresql")
_JSON = sa.Text().with_variant(postgresql.JSON(), "postgresql")
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bundles",
        sa.Column("bundle_hash", sa.Text(), primary_key=True),
        sa.Column("texts", _JSON, nullable=False),  # {file name: YAML text}
        sa.Column("stored_at", _TIMESTAMP, nullable=False),
    )
    op.create_table(
        "checkpoints",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=False),
        sa.Column("record_hash", sa.Text(), nullable=False),
        sa.Column("signed_at", _TIMESTAMP, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),  # the signed note, as exported
    )


def downgrade() -> None:
    op.drop_table("checkpoints")
    op.drop_table("bundles")

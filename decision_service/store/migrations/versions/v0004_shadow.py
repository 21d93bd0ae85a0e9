"""Shadow results beside the decisions they shadow.

A shadow is a candidate's decision on the same input, evaluated after the answer
and never answered. It is written later than its decision, by an UPDATE, so it
lies outside the hash chain: the chain covers what was answered.

Revision ID: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None

_JSON = sa.Text().with_variant(postgresql.JSON(), "postgresql")


def upgrade() -> None:
    op.add_column("decisions", sa.Column("shadow", _JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("shadow")

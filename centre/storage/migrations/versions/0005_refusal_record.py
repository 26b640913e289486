"""Fleet health: a refused batch stops its stream only until a later batch of events is accepted;
the refusal itself is kept apart as the record (issue 14, item 5).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UTC_TIME = sa.DateTime(timezone=True)
# (table, the flag's reason and time columns it keeps as the record)
FLAGS = (("units", "stream_stopped_reason", "stream_stopped_at"), ("streams", "stopped_reason", "stopped_at"))


def upgrade() -> None:
    for table, reason, at in FLAGS:
        op.add_column(table, sa.Column("last_refusal", sa.Text()))
        op.add_column(table, sa.Column("last_refusal_at", UTC_TIME))
        # A refusal recorded before this revision is the record of the latest one, too.
        op.execute(f"UPDATE {table} SET last_refusal = {reason}, last_refusal_at = {at} "
                   f"WHERE {reason} IS NOT NULL")


def downgrade() -> None:
    for table, _reason, _at in FLAGS:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("last_refusal_at")
            batch.drop_column("last_refusal")

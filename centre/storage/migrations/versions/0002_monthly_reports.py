"""Monthly reports: supervision scores entered by managers, the monthly callback draw.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UTC_TIME = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "supervision_scores",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("counter_id", sa.String(32), nullable=False),
        sa.Column("score", sa.Numeric(5, 2, asdecimal=False), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("entered_by", sa.String(64), nullable=False),
        sa.Column("entered_at", UTC_TIME, nullable=False),
    )
    op.create_index("ix_supervision_scores_month_counter", "supervision_scores", ["month", "counter_id"])
    op.create_table(
        "callback_draws",
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("seed", sa.String(64), nullable=False),
        sa.Column("requested", sa.Integer(), nullable=False),
        sa.Column("candidates", sa.Integer(), nullable=False),
        sa.Column("drawn_by", sa.String(64), nullable=False),
        sa.Column("drawn_at", UTC_TIME, nullable=False),
    )
    op.create_table(
        "callback_entries",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("month", sa.String(7), sa.ForeignKey("callback_draws.month"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.Text(), nullable=False),
        sa.Column("counter_id", sa.Text()),
        sa.Column("staff_id", sa.Text()),
        sa.Column("ticket", sa.Text()),
        sa.Column("level", sa.SmallInteger()),
        sa.Column("wall_time", sa.String(64), nullable=False),
        sa.Column("result", sa.Text()),
        sa.Column("result_by", sa.String(64)),
        sa.Column("result_at", UTC_TIME),
        sa.UniqueConstraint("month", "transaction_id", name="uq_callback_entries_month_tx"),
    )


def downgrade() -> None:
    for table in ("callback_entries", "callback_draws", "supervision_scores"):
        op.drop_table(table)

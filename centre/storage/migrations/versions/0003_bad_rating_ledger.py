"""The 差评 ledger: entries, their audit trail, appeals, and the holiday calendar for deadlines.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UTC_TIME = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "holidays",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("loaded_at", UTC_TIME, nullable=False),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("transaction_id", sa.String(128), nullable=False, unique=True),
        sa.Column("counter_id", sa.Text()),
        sa.Column("staff_id", sa.Text()),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("reasons_json", sa.Text(), nullable=False),
        sa.Column("wall_time", sa.String(64), nullable=False),
        sa.Column("rated_at", UTC_TIME, nullable=False),
        sa.Column("deadline_days", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rectification", sa.Text()),
        sa.Column("rectified_by", sa.String(64)),
        sa.Column("rectified_at", UTC_TIME),
        sa.Column("callback_note", sa.Text()),
        sa.Column("callback_by", sa.String(64)),
        sa.Column("callback_at", UTC_TIME),
        sa.Column("closed_by", sa.String(64)),
        sa.Column("closed_at", UTC_TIME),
        sa.Column("created_at", UTC_TIME, nullable=False),
    )
    op.create_index("ix_ledger_entries_status", "ledger_entries", ["status"])
    op.create_table(
        "ledger_actions",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("entry_id", BIG_ID, sa.ForeignKey("ledger_entries.id"), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", UTC_TIME, nullable=False),
        sa.Column("detail", sa.Text()),
    )
    op.create_index("ix_ledger_actions_entry_id", "ledger_actions", ["entry_id"])
    op.create_table(
        "appeals",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("entry_id", BIG_ID, sa.ForeignKey("ledger_entries.id"), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("submitted_by", sa.String(64), nullable=False),
        sa.Column("submitted_at", UTC_TIME, nullable=False),
        sa.Column("decision", sa.String(16)),
        sa.Column("decision_note", sa.Text()),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("decided_at", UTC_TIME),
    )
    op.create_index("ix_appeals_entry_id", "appeals", ["entry_id"])


def downgrade() -> None:
    for table in ("appeals", "ledger_actions", "ledger_entries", "holidays"):
        op.drop_table(table)

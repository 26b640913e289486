"""complaints and complaint_actions: the complaints register (投诉, issue 19, item 3).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: Union[str, Sequence[str], None] = "0013"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    when = sa.DateTime(timezone=True)
    op.create_table(
        "complaints",
        sa.Column("id", big_id, primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("invalid_reason", sa.String(16)),
        sa.Column("deadline_days", sa.SmallInteger()),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("complainant", sa.Text()),
        sa.Column("received_at", when, nullable=False),
        sa.Column("department", sa.Text()),
        sa.Column("cause", sa.Text()),
        sa.Column("first_handler", sa.Text()),
        sa.Column("counter_id", sa.Text()),
        sa.Column("staff_id", sa.Text()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reply", sa.Text()),
        sa.Column("replied_by", sa.String(64)),
        sa.Column("replied_at", when),
        sa.Column("callback_note", sa.Text()),
        sa.Column("satisfaction", sa.String(16)),
        sa.Column("callback_by", sa.String(64)),
        sa.Column("callback_at", when),
        sa.Column("closed_by", sa.String(64)),
        sa.Column("closed_at", when),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", when, nullable=False),
    )
    op.create_index("ix_complaints_status", "complaints", ["status"])
    op.create_table(
        "complaint_actions",
        sa.Column("id", big_id, primary_key=True),
        sa.Column("complaint_id", big_id, sa.ForeignKey("complaints.id"), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", when, nullable=False),
        sa.Column("detail", sa.Text()),
    )
    op.create_index("ix_complaint_actions_complaint_id", "complaint_actions", ["complaint_id"])


def downgrade() -> None:
    op.drop_table("complaint_actions")
    op.drop_table("complaints")

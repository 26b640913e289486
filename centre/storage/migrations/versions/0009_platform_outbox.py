"""platform_outbox: what the centre owes the 好差评 platform (issue 19, item 1). Counted ratings
already stored are not queued: the platform is sent what is stored from this revision on.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: Union[str, Sequence[str], None] = "0008"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "platform_outbox",
        sa.Column("id", big_id, primary_key=True),
        sa.Column("key", sa.String(128), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("unit_id", sa.String(64)),
        sa.Column("event_id", sa.String(64)),
        sa.Column("transaction_id", sa.Text()),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("sent_json", sa.Text()),
    )
    op.create_index("ix_platform_outbox_status_order", "platform_outbox", ["status", "rated_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_platform_outbox_status_order", "platform_outbox")
    op.drop_table("platform_outbox")

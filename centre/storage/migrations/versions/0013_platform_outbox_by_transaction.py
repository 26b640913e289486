"""platform_outbox by transaction (issue 19, item 1): the worker looks up a rating's pending
reasons, and each round the ledger's rectifications and callbacks not queued yet, by transaction;
without an index each was a scan of the whole outbox, which only grows.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0013"
down_revision: Union[str, Sequence[str], None] = "0012"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index("ix_platform_outbox_transaction", "platform_outbox", ["transaction_id", "kind"])


def downgrade() -> None:
    op.drop_index("ix_platform_outbox_transaction", "platform_outbox")

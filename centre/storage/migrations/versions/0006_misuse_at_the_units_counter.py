"""`rating.misuse` (and `rating.voided`) stored without a counter count at the unit's registered
counter (PROTOCOL.md; issue 14, item 10): events stored before this revision get it too. Only the
report column changes; the event as the unit sent it (`raw_json`) stays as it was.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute(
        "UPDATE events SET counter_id = (SELECT units.counter_id FROM units WHERE units.unit_id = events.unit_id) "
        "WHERE type IN ('rating.misuse', 'rating.voided') AND counter_id IS NULL")


def downgrade() -> None:
    pass  # which rows had no counter of their own is still in raw_json; nothing needs undoing

"""staff_pins: the staff console's PINs, as the scrypt hashes units verify (issue 17, item 1).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: Union[str, Sequence[str], None] = "0010"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "staff_pins",
        sa.Column("staff_id", sa.String(64), primary_key=True),
        sa.Column("pin_hash", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("staff_pins")

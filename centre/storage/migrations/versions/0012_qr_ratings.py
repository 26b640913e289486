"""qr_ratings and public_secrets: ratings after the fact from the ticket's page (issue 18, item 2),
and the key of that page's form tokens.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: Union[str, Sequence[str], None] = "0011"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "qr_ratings",
        sa.Column("id", big_id, primary_key=True),
        sa.Column("ref", sa.String(64), sa.ForeignKey("ticket_refs.ref"), nullable=False, unique=True),
        sa.Column("transaction_id", sa.Text(), nullable=False, unique=True),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("reasons_json", sa.Text()),
        sa.Column("counter_id", sa.Text()),
        sa.Column("staff_id", sa.Text()),
        sa.Column("service_item", sa.Text()),
        sa.Column("rated_at", UTC_TIME, nullable=False),
    )
    op.create_index("ix_qr_ratings_rated_at", "qr_ratings", ["rated_at"])
    op.create_table(
        "public_secrets",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("secret", sa.String(128), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("public_secrets")
    op.drop_index("ix_qr_ratings_rated_at", "qr_ratings")
    op.drop_table("qr_ratings")

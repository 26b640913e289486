"""ticket_refs: the unguessable reference each ticket's QR carries (issue 18, item 1), so the
citizen's phone finds its ticket at `/t/{ref}`. Tickets stored before this revision are indexed
from their `ticket.issued` events, by the same rule as new ones (centre/units/ticket_refs.py).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""
import json
import re
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: Union[str, Sequence[str], None] = "0009"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

REF_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")   # centre.units.ticket_refs.REF_PATTERN at this revision


def upgrade() -> None:
    table = op.create_table(
        "ticket_refs",
        sa.Column("ref", sa.String(64), primary_key=True),
        sa.Column("unit_id", sa.String(64), sa.ForeignKey("units.unit_id"), nullable=False),
        sa.Column("stream_id", sa.String(64), sa.ForeignKey("streams.stream_id"), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
    )
    bind = op.get_bind()
    issued = bind.execute(sa.text(
        "SELECT unit_id, stream_id, seq, raw_json FROM events "
        "WHERE type = 'ticket.issued' AND set_aside IS NULL ORDER BY id")).all()
    seen: set[str] = set()
    rows = []
    for unit_id, stream_id, seq, raw_json in issued:
        ref = (json.loads(raw_json).get("data") or {}).get("ref")
        if isinstance(ref, str) and REF_PATTERN.fullmatch(ref) and ref not in seen:
            seen.add(ref)
            rows.append({"ref": ref, "unit_id": unit_id, "stream_id": stream_id, "seq": seq})
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_table("ticket_refs")

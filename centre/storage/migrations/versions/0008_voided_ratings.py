"""events.presses, and ratings voided by their unit (issue 14, item 11): a `rating.voided` sets
aside (as `voided`) the same unit's rating of that transaction and its reasons, and stands for
them in the report's misuse column (`presses`: one for the rating, one for each reason); a burst's
`rating.misuse` stands for the presses it dropped. Events stored before this revision get both.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""
import json
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: Union[str, Sequence[str], None] = "0007"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

MAX_BURST_PRESSES = 100_000  # centre.units.claims.MAX_BURST_PRESSES at this revision


def _burst_presses(raw_json: str) -> int:
    data = json.loads(raw_json).get("data") or {}
    dropped = data.get("dropped")
    if data.get("why") == "burst" and type(dropped) is int and 1 <= dropped <= MAX_BURST_PRESSES:
        return dropped
    return 1


def upgrade() -> None:
    op.add_column("events", sa.Column("presses", sa.Integer()))
    bind = op.get_bind()
    bind.execute(sa.text("UPDATE events SET presses = 1 WHERE type = 'rating.misuse'"))
    bursts = bind.execute(sa.text("SELECT id, raw_json FROM events WHERE type = 'rating.misuse' "
                                  "AND raw_json LIKE '%dropped%'")).all()
    for event_id, raw_json in bursts:
        bind.execute(sa.text("UPDATE events SET presses = :presses WHERE id = :id"),
                     {"presses": _burst_presses(raw_json), "id": event_id})
    voids = bind.execute(sa.text("SELECT id, unit_id, transaction_id FROM events WHERE type = 'rating.voided' "
                                 "AND set_aside IS NULL AND transaction_id IS NOT NULL ORDER BY id")).all()
    for event_id, unit_id, transaction_id in voids:
        taken = bind.execute(sa.text(
            "UPDATE events SET set_aside = 'voided' WHERE unit_id = :unit AND transaction_id = :tx "
            "AND type IN ('rating.submitted', 'rating.reason') AND set_aside IS NULL"),
            {"unit": unit_id, "tx": transaction_id}).rowcount
        bind.execute(sa.text("UPDATE events SET presses = :presses WHERE id = :id"), {"presses": taken, "id": event_id})


def downgrade() -> None:
    op.execute("UPDATE events SET set_aside = NULL WHERE set_aside = 'voided'")
    op.drop_column("events", "presses")

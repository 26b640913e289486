"""events.set_aside: why the centre does not count a stored event (issue 15, item 9). Events
stored before this revision are held to the same rules as new ones (centre/units/claims.py), in
its order, so each gets its first reason: a window event naming a counter its unit is not
registered for, a wall time more than a day after it was received or more than a day before its
unit enrolled, and a type the centre does not know.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from protocol.events import EVENT_TYPES

revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# centre.units.claims.WINDOW_EVENTS at this revision.
WINDOW_EVENTS = ("transaction.completed", "rating.submitted", "rating.missed", "rating.misuse", "rating.voided")
SET_ASIDE_ROWS = sa.text("set_aside IS NOT NULL")


def _a_day(column: str, sign: str) -> str:
    """SQL for `column` (a UTC time) a day later (`sign` "+") or earlier ("-")."""
    if op.get_bind().dialect.name == "postgresql":
        return f"{column} {sign} interval '1 day'"
    # SQLite keeps these as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC text, which sorts as time does.
    return f"strftime('%Y-%m-%d %H:%M:%f', {column}, '{sign}1 day')"


def _set_aside(reason: str, condition: str, *params: sa.BindParameter) -> None:
    """Give `reason` to every event not set aside yet that meets `condition` (SQL on events)."""
    op.get_bind().execute(sa.text(f"UPDATE events SET set_aside = '{reason}' "
                                  f"WHERE set_aside IS NULL AND ({condition})").bindparams(*params))


def upgrade() -> None:
    op.add_column("events", sa.Column("set_aside", sa.String(32)))
    op.create_index("ix_events_set_aside", "events", ["unit_id", "set_aside", "id"],
                    sqlite_where=SET_ASIDE_ROWS, postgresql_where=SET_ASIDE_ROWS)
    _set_aside("other_counter", "type IN :windows AND counter_id IS NOT NULL AND NOT EXISTS ("
               "SELECT 1 FROM units WHERE units.unit_id = events.unit_id AND units.counter_id = events.counter_id)",
               sa.bindparam("windows", list(WINDOW_EVENTS), expanding=True))
    _set_aside("future", f"wall_time_utc > {_a_day('received_at', '+')}")
    _set_aside("before_enrolment", "EXISTS (SELECT 1 FROM units WHERE units.unit_id = events.unit_id "
               f"AND units.enrolled_at IS NOT NULL AND events.wall_time_utc < {_a_day('units.enrolled_at', '-')})")
    _set_aside("unknown_type", "type NOT IN :known", sa.bindparam("known", sorted(EVENT_TYPES), expanding=True))


def downgrade() -> None:
    op.drop_index("ix_events_set_aside", "events")
    op.drop_column("events", "set_aside")

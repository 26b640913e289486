"""Initial schema: units, enrolment tokens, streams, events, bundle versions, staff photos.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Written against plain SQLAlchemy types (not centre.models) so that later model changes cannot
change what this revision does.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UTC_TIME = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("unit_id", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("counter_id", sa.String(32)),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("public_key", sa.String(64)),
        sa.Column("token_hash", sa.String(64), unique=True),
        sa.Column("enrolled_at", UTC_TIME),
        sa.Column("revoked_at", UTC_TIME),
        sa.Column("current_stream_id", sa.String(64)),
        sa.Column("stream_stopped_reason", sa.Text()),
        sa.Column("stream_stopped_at", UTC_TIME),
        sa.Column("last_seen", UTC_TIME),
        sa.Column("clock_offset_ms", sa.BigInteger()),
        sa.Column("backlog", sa.BigInteger()),
        sa.Column("paper", sa.String(32)),
        sa.Column("version", sa.String(64)),
        sa.Column("uptime_s", sa.BigInteger()),
        sa.Column("disk_free_mb", sa.BigInteger()),
        sa.Column("health_json", sa.Text()),
    )
    op.create_table(
        "enrolment_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("unit_id", sa.String(64), sa.ForeignKey("units.unit_id"), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("expires_at", UTC_TIME, nullable=False),
        sa.Column("used_at", UTC_TIME),
    )
    op.create_index("ix_enrolment_tokens_unit_id", "enrolment_tokens", ["unit_id"])
    op.create_table(
        "streams",
        sa.Column("stream_id", sa.String(64), primary_key=True),
        sa.Column("unit_id", sa.String(64), sa.ForeignKey("units.unit_id"), nullable=False),
        sa.Column("acked_through", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("first_seen", UTC_TIME, nullable=False),
        sa.Column("last_seen", UTC_TIME, nullable=False),
        sa.Column("stopped_reason", sa.Text()),
        sa.Column("stopped_at", UTC_TIME),
    )
    op.create_index("ix_streams_unit_id", "streams", ["unit_id"])
    op.create_table(
        "events",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("unit_id", sa.String(64), sa.ForeignKey("units.unit_id"), nullable=False),
        sa.Column("stream_id", sa.String(64), sa.ForeignKey("streams.stream_id"), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("wall_time", sa.String(64), nullable=False),
        sa.Column("wall_time_utc", UTC_TIME, nullable=False),
        sa.Column("received_at", UTC_TIME, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("level", sa.SmallInteger()),
        sa.Column("staff_id", sa.Text()),
        sa.Column("counter_id", sa.Text()),
        sa.Column("transaction_id", sa.Text()),
        sa.Column("ticket", sa.Text()),
        sa.Column("service_item", sa.Text()),
        sa.Column("raw_json", sa.Text(), nullable=False),
        sa.UniqueConstraint("stream_id", "seq", name="uq_events_stream_seq"),
    )
    op.create_index("ix_events_unit_id", "events", ["unit_id"])
    op.create_index("ix_events_event_id", "events", ["event_id"])
    op.create_index("ix_events_transaction_id", "events", ["transaction_id"])
    op.create_index("ix_events_counter_wall_time", "events", ["counter_id", "wall_time_utc"])
    op.create_index("ix_events_staff_wall_time", "events", ["staff_id", "wall_time_utc"])
    op.create_index("ix_events_type_wall_time", "events", ["type", "wall_time_utc"])
    op.create_table(
        "bundle_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("body_json", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
    )
    op.create_table(
        "staff_photos",
        sa.Column("staff_id", sa.String(64), primary_key=True),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("updated_at", UTC_TIME, nullable=False),
    )


def downgrade() -> None:
    for table in ("staff_photos", "bundle_versions", "events", "streams", "enrolment_tokens", "units"):
        op.drop_table(table)

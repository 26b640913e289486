"""The `[sync]` section of the unit's config: how the uploader and the bundle refresher talk to the
centre. `kiosk.config` puts it into the unit's settings; sync needs nothing else of the config."""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class SyncSettings(BaseModel):
    # As every section of the unit's config: unknown keys are refused, values never change.
    model_config = ConfigDict(extra="forbid", frozen=True)

    centre_url: str | None = None   # normally written by `kiosk provision` into the state dir
    ca_file: Path | None = None     # extra CA bundle for the centre's TLS certificate
    timeout_s: float = Field(10.0, gt=0, le=120)
    heartbeat_s: float = Field(60.0, ge=5, le=3600)
    bundle_refresh_s: float = Field(600.0, ge=30, le=86400)
    retention_days: int = Field(90, ge=1, le=3650)

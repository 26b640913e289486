"""Names of the unit's own files in its state dir (everything it owns lives there). What sync keeps
there (key, token, centre record, bundle cache, staff photos) is named in sync.paths."""
from __future__ import annotations

from pathlib import Path

EVENTS_DB_NAME = "events.db"
VOICE_DIR_NAME = "voice"
API_URL_NAME = "api.url"                # where the running service's local API answers


def events_db(state_dir: Path) -> Path:
    return Path(state_dir) / EVENTS_DB_NAME


def voice_dir(state_dir: Path) -> Path:
    return Path(state_dir) / VOICE_DIR_NAME


def api_url_file(state_dir: Path) -> Path:
    return Path(state_dir) / API_URL_NAME

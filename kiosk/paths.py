"""Names of the unit's own files in its state dir (everything it owns lives there). What sync keeps
there (key, token, centre record, bundle cache, staff photos) is named in sync.paths."""
from __future__ import annotations

from pathlib import Path

EVENTS_DB_NAME = "events.db"
VOICE_DIR_NAME = "voice"
API_URL_NAME = "api.url"                # where the running service's local API answers


def state_dir_problem(state_dir: Path) -> str | None:
    """Why `state_dir` can never be a state dir (a file stands where it or a parent should be), in
    one line that says where and how to fix it; None when it is, or can become, a folder."""
    for place in (Path(state_dir), *Path(state_dir).parents):
        if place.exists():
            if place.is_dir():
                return None
            what = "is a file" if place == Path(state_dir) else f"is inside {place}, which is a file"
            return (f"state dir {state_dir} {what}, not a folder: move the file away, or give "
                    f"--state-dir (or [unit] state_dir in the config) a folder")
    return None


def events_db(state_dir: Path) -> Path:
    return Path(state_dir) / EVENTS_DB_NAME


def voice_dir(state_dir: Path) -> Path:
    return Path(state_dir) / VOICE_DIR_NAME


def api_url_file(state_dir: Path) -> Path:
    return Path(state_dir) / API_URL_NAME

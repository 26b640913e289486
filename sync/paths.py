"""Names of the files sync keeps in the unit's state dir (the unit's own, such as its event store,
are named in kiosk.paths)."""
from __future__ import annotations

from pathlib import Path

# Written by `kiosk provision` (sync.provision); `kiosk run` reads them from the state dir.
UNIT_KEY_NAME = "unit_key.pem"          # Ed25519 private key, PKCS#8 PEM, mode 0600
UNIT_TOKEN_NAME = "unit_token"          # bearer token the centre issued at enrolment, mode 0600
CENTRE_FILE_NAME = "centre.json"        # centre URL, unit id, public key; written last (the commit mark)
CENTRE_CA_NAME = "centre_ca.pem"        # copy of the CA bundle given to `kiosk provision --ca-file`

# Kept by the bundle refresher (sync.bundle) so the staff card and reasons work offline.
BUNDLE_CACHE_NAME = "bundle.json"       # last bundle from the centre, with its ETag
STAFF_PHOTOS_DIR_NAME = "staff_photos"  # photos named by content hash


def unit_key(state_dir: Path) -> Path:
    return Path(state_dir) / UNIT_KEY_NAME


def unit_token(state_dir: Path) -> Path:
    return Path(state_dir) / UNIT_TOKEN_NAME


def centre_file(state_dir: Path) -> Path:
    return Path(state_dir) / CENTRE_FILE_NAME


def centre_ca(state_dir: Path) -> Path:
    return Path(state_dir) / CENTRE_CA_NAME


def bundle_cache(state_dir: Path) -> Path:
    return Path(state_dir) / BUNDLE_CACHE_NAME


def staff_photos_dir(state_dir: Path) -> Path:
    return Path(state_dir) / STAFF_PHOTOS_DIR_NAME

"""The unit bundle (reasons, staff roster with photos, service items, complaint phone) from the centre.

Fetched with If-None-Match at start and every `bundle_refresh_s`, kept on disk with its ETag and the
staff photos, so the staff card and the reason screen work from the last bundle while the centre is
out of reach. A unit that never had a bundle uses its config's roster and reasons (`current` is
None). All HTTP and file work runs in a worker thread; callbacks run on the event loop.

The bundle is handed over as the centre sent it (`BundleData`, photos as files on this unit's disk):
turning it into the unit's own roster and reasons is the unit's business (kiosk.service.sync_link).
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, ValidationError

from sync import paths
from sync.client import CentreClient, CentreRefused, CentreUnreachable
from sync.files import SECRET_MODE, ensure_dir, write_atomic
from sync.provision import Provisioning
from sync.settings import SyncSettings
from sync.timing import Backoff, wall_now

log = logging.getLogger(__name__)

BUNDLE_CACHE_FORMAT = 1
MAX_BUNDLE_BYTES = 4 * 1024 * 1024
MAX_PHOTO_BYTES = 5 * 1024 * 1024

_IMAGE_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif"}
_IMAGE_MAGIC = ((b"\xff\xd8\xff", ".jpg"), (b"\x89PNG\r\n\x1a\n", ".png"), (b"GIF8", ".gif"))


# --- the bundle's shape (PROTOCOL.md "Unit bundle"); unknown fields are kept, not refused ----

class _Part(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class BundleReason(_Part):
    code: str
    label: str


class BundleStaff(_Part):
    staff_id: str
    name: str
    title: str = ""
    duties: str = ""
    photo: str | None = None  # URL, usually relative to the centre: /api/v1/staff/…/photo
    pin_hash: str | None = None  # the staff console's PIN, hashed (protocol.pins; checked by the unit)


class BundleServiceItem(_Part):
    code: str
    name: str
    category: str = ""
    time_limit: str = ""
    materials: list[str] = []
    steps: list[str] = []     # the procedure (办理流程); bundles from before it have none


class BundleData(_Part):
    version: str
    reasons: list[BundleReason] = []
    staff: list[BundleStaff] = []
    service_items: list[BundleServiceItem] = []
    complaint_phone: str = "12329"


@dataclass(frozen=True)
class PhotoRecord:
    url: str
    etag: str | None
    file: str  # name inside the staff photos folder: sha256 of the content + image extension


@dataclass(frozen=True)
class CurrentBundle:
    data: BundleData
    etag: str | None
    fetched_at: str                 # when this content was downloaded (RFC 3339)
    source: str                     # "centre" (confirmed in this run) or "cache" (from disk only)
    photos_dir: Path
    photo_records: dict[str, PhotoRecord] = field(default_factory=dict)  # by staff_id

    def photo_path(self, staff_id: str) -> Path | None:
        """The staff member's photo on this unit's disk, or None if there is none (yet)."""
        record = self.photo_records.get(staff_id)
        if record is None:
            return None
        path = self.photos_dir / record.file
        return path if path.is_file() else None

    def missing_photos(self) -> bool:
        return any(member.photo and self.photo_path(member.staff_id) is None for member in self.data.staff)


def _cache_record(bundle: CurrentBundle, raw: dict[str, Any]) -> bytes:
    record = {
        "format": BUNDLE_CACHE_FORMAT,
        "etag": bundle.etag,
        "fetched_at": bundle.fetched_at,
        "bundle": raw,
        "photos": {staff_id: {"url": r.url, "etag": r.etag, "file": r.file}
                   for staff_id, r in bundle.photo_records.items()},
    }
    return json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8")


def load_cached_bundle(state_dir: Path) -> CurrentBundle | None:
    """The last bundle this unit stored, or None (never had one, or the file is unusable)."""
    path = paths.bundle_cache(Path(state_dir))
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        log.warning("%s unusable (%s); using the config's roster until the centre answers", path, error)
        return None
    try:
        if record.get("format") != BUNDLE_CACHE_FORMAT:
            raise ValueError(f"format {record.get('format')!r}")
        data = BundleData.model_validate(record["bundle"])
        photos = {staff_id: PhotoRecord(str(r["url"]), r.get("etag"), Path(str(r["file"])).name)
                  for staff_id, r in (record.get("photos") or {}).items()}
    except (AttributeError, KeyError, TypeError, ValueError) as error:  # ValidationError is a ValueError
        log.warning("%s unusable (%s); using the config's roster until the centre answers", path, error)
        return None
    return CurrentBundle(data, record.get("etag"), str(record.get("fetched_at", "")), "cache",
                         paths.staff_photos_dir(Path(state_dir)), photos)


def _image_extension(content: bytes, content_type: str) -> str | None:
    declared = _IMAGE_TYPES.get(content_type.split(";")[0].strip().lower())
    if declared:
        return declared
    for magic, extension in _IMAGE_MAGIC:
        if content.startswith(magic):
            return extension
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return ".webp"
    return None


NO_BUNDLE = "no_bundle"   # the centre's 404 before any bundle is loaded (centre bundle load)


def _describe(current: "CurrentBundle | None") -> str:
    return f"bundle {current.data.version} ({current.source})" if current else "the config's roster"


class BundleCache:
    """The current bundle for the app: `current` is the freshest known (centre, else disk cache),
    or None when the unit never had one."""

    def __init__(self, state_dir: Path, provisioning: Provisioning | None, settings: SyncSettings, *,
                 client: CentreClient | None = None) -> None:
        self._state_dir = Path(state_dir)
        self._settings = settings
        self._client = client
        if client is None and provisioning is not None:
            self._client = CentreClient(
                provisioning.centre_url, unit_id=provisioning.unit_id, unit_token=provisioning.unit_token,
                ca_file=settings.ca_file or provisioning.ca_file, timeout_s=settings.timeout_s)
        self._current = load_cached_bundle(self._state_dir)
        self._callbacks: list[Callable[[CurrentBundle], None]] = []
        self._lock = asyncio.Lock()
        self._last_error: dict[str, Any] | None = None
        self._last_checked_at: str | None = None

    @property
    def current(self) -> CurrentBundle | None:
        return self._current

    def on_update(self, callback: Callable[[CurrentBundle], None]) -> None:
        """Call `callback(bundle)` on the loop whenever the content (data or photos) changes."""
        self._callbacks.append(callback)

    def status(self) -> dict[str, Any]:
        bundle = self._current
        return {
            "version": bundle.data.version if bundle else None,
            "source": bundle.source if bundle else None,
            "etag": bundle.etag if bundle else None,
            "fetched_at": bundle.fetched_at if bundle else None,
            "last_checked_at": self._last_checked_at,
            "last_error": self._last_error,
        }

    async def run(self) -> None:
        """Refresh now and every bundle_refresh_s until cancelled; retry sooner after a failure."""
        if self._client is None:
            log.info("not provisioned: no bundle refresh (the config's roster and reasons are used)")
            return
        backoff = Backoff(cap_s=self._settings.bundle_refresh_s)
        while True:
            if await self.refresh():
                backoff.reset()
                delay = self._settings.bundle_refresh_s
            else:
                delay = backoff.next_delay()
            await asyncio.sleep(delay)

    async def refresh(self) -> bool:
        """One conditional download; True when the centre answered (new bundle or 304)."""
        if self._client is None:
            return False
        async with self._lock:
            previous = self._current
            try:
                fresh = await asyncio.to_thread(self._download, previous)
            except CentreRefused as refused:
                if refused.code != NO_BUNDLE:
                    self._failed(previous, refused)
                    return False
                # The centre answered: it has no bundle loaded yet. That is its state, not a fault:
                # ask again at the normal interval, and say so once, not at every try.
                if self._last_checked_at is None or self._last_error is not None:
                    log.info("the centre has no bundle yet; using %s", _describe(previous))
                self._last_checked_at = wall_now()
                self._last_error = None
                return True
            except (CentreUnreachable, OSError, ValueError) as error:
                self._failed(previous, error)
                return False
            self._last_checked_at = wall_now()
            self._last_error = None
            self._current = fresh
        if fresh is not previous and _content_changed(previous, fresh):
            log.info("bundle %s in use (from the centre)", fresh.data.version)
            for callback in list(self._callbacks):
                try:
                    callback(fresh)
                except Exception:
                    log.exception("bundle update callback failed")
        return True

    def _failed(self, previous: CurrentBundle | None, error: Exception) -> None:
        self._last_error = {"message": str(error), "at": wall_now()}
        log.warning("bundle refresh failed, keeping %s: %s", _describe(previous), error)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    # --- blocking work (worker thread) ---------------------------------------------------

    def _download(self, previous: CurrentBundle | None) -> CurrentBundle:
        fetched = self._client.fetch_bundle(previous.etag if previous else None, MAX_BUNDLE_BYTES)
        photos_dir = paths.staff_photos_dir(self._state_dir)
        if fetched.status == 304 and previous is not None:
            confirmed = replace(previous, source="centre", etag=fetched.etag or previous.etag)
            if not previous.missing_photos():
                return confirmed
            # Same bundle, but some photos failed last time: try those again.
            records = self._sync_photos(previous.data, previous.photo_records)
            updated = replace(confirmed, photo_records=records)
            self._write_cache(updated, previous.data.model_dump(mode="json"))
            return updated
        if fetched.status == 304:
            raise CentreRefused(304, "not_modified", "the centre answered 304 to a request without an ETag")
        try:
            raw = json.loads(fetched.content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise ValueError(f"the centre's bundle is not JSON: {error}") from None
        try:
            data = BundleData.model_validate(raw)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ValueError(f"the centre's bundle is invalid at {where}: {first['msg']}") from None
        ensure_dir(photos_dir)
        records = self._sync_photos(data, previous.photo_records if previous else {})
        bundle = CurrentBundle(data, fetched.etag, wall_now(), "centre", photos_dir, records)
        self._write_cache(bundle, raw)
        self._remove_unused_photos(bundle, previous)
        return bundle

    def _sync_photos(self, data: BundleData, known: dict[str, PhotoRecord]) -> dict[str, PhotoRecord]:
        """Each staff photo URL is downloaded once and revalidated with its ETag; a photo that
        cannot be fetched now keeps its old file (if any) and is tried again at the next refresh."""
        photos_dir = paths.staff_photos_dir(self._state_dir)
        ensure_dir(photos_dir)
        by_url = {record.url: record for record in known.values() if (photos_dir / record.file).is_file()}
        done: dict[str, PhotoRecord | None] = {}
        records: dict[str, PhotoRecord] = {}
        for member in data.staff:
            if not member.photo:
                continue
            url = self._client.url(member.photo)
            if url not in done:
                done[url] = self._fetch_photo(url, by_url.get(url), photos_dir)
            if done[url] is not None:
                records[member.staff_id] = done[url]
        return records

    def _fetch_photo(self, url: str, known: PhotoRecord | None, photos_dir: Path) -> PhotoRecord | None:
        if known is not None and not known.etag:
            return known  # no validator: the URL was downloaded once, and that is that
        try:
            fetched = self._client.fetch(url, known.etag if known else None, MAX_PHOTO_BYTES)
        except (CentreUnreachable, CentreRefused) as error:
            log.warning("staff photo %s not fetched (%s)%s", url, error, "; keeping the old one" if known else "")
            return known
        if fetched.status == 304 and known is not None:
            return known
        extension = _image_extension(fetched.content, fetched.content_type)
        if fetched.status != 200 or extension is None:
            log.warning("staff photo %s is not an image (%s); not used", url, fetched.content_type or "no type")
            return known
        name = hashlib.sha256(fetched.content).hexdigest()[:32] + extension
        if not (photos_dir / name).is_file():
            write_atomic(photos_dir / name, fetched.content, SECRET_MODE)
        return PhotoRecord(url, fetched.etag, name)

    def _write_cache(self, bundle: CurrentBundle, raw: dict[str, Any]) -> None:
        ensure_dir(self._state_dir)
        write_atomic(paths.bundle_cache(self._state_dir), _cache_record(bundle, raw), SECRET_MODE)

    @staticmethod
    def _remove_unused_photos(bundle: CurrentBundle, previous: CurrentBundle | None) -> None:
        # The previous bundle's photos stay one more round: the screen may still draw one of them
        # until the app's on_update callback has swapped the staff card.
        in_use = {record.file for record in bundle.photo_records.values()}
        if previous is not None:
            in_use |= {record.file for record in previous.photo_records.values()}
        for path in bundle.photos_dir.iterdir():
            # Only finished photo files; a temporary file belongs to a write in progress.
            if path.is_file() and not path.name.startswith(".") and path.name not in in_use:
                path.unlink(missing_ok=True)


def _content_changed(previous: CurrentBundle | None, fresh: CurrentBundle) -> bool:
    if previous is None:
        return True
    return previous.data != fresh.data or previous.photo_records != fresh.photo_records

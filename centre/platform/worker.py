"""The worker that sends the outbox to the 好差评 platform, one record at a time, in rating order.

Each record is a POST of one JSON object with the header `Idempotency-Key: <key>` (the event_id),
signed as configured: `Authorization: Bearer <token>`, or `X-Timestamp` and `X-Signature` (hex
HMAC-SHA256 of "<timestamp>\\n<body>" with the secret). A 2xx is sent; 409 says the platform has
the key already (an earlier try got through though its answer was lost), so that is sent too.
408, 429, 5xx, a timeout or no connection: tried again after a backoff with jitter, the same
record first (so the order holds). Another 4xx: the platform refuses the record itself; it is
dead at once, for a person to look at, and the next one goes. Nothing is held in memory between
tries: the claim, the outcome and the next try's time are in the database, so a restart, or a
second worker (`centre platform send` beside `centre serve`), carries on where it stopped.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import httpx

from centre.dates.months import centre_time_zone
from centre.platform.mapping import PlatformConfig
from centre.platform.outbox import (
    Claimed, mark_dead_letters, next_due, queue_ledger_updates, record_failure, record_sent,
)
from centre.storage.db import Database

log = logging.getLogger("centre.platform")
RETRIED_STATUSES = frozenset({408, 425, 429})


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def signed_headers(config: PlatformConfig, key: str, body: bytes, now: datetime) -> dict[str, str]:
    headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": key}
    if config.auth == "token":
        headers["Authorization"] = f"Bearer {config.secret}"
    else:
        timestamp = str(int(now.timestamp()))
        mac = hmac.new(config.secret.encode(), timestamp.encode() + b"\n" + body, hashlib.sha256)
        headers.update({"X-Timestamp": timestamp, "X-Signature": mac.hexdigest()})
    return headers


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str = ""
    permanent: bool = False


def post_record(client: httpx.Client, config: PlatformConfig, claimed: Claimed, body: bytes,
                now: datetime) -> Outcome:
    try:
        answer = client.post(config.url, content=body, headers=signed_headers(config, claimed.key, body, now),
                             timeout=config.timeout_s)
    except httpx.TimeoutException:
        return Outcome(False, f"no answer within {config.timeout_s:g} s")
    except httpx.HTTPError as exc:
        return Outcome(False, f"{exc.__class__.__name__}: {exc}")
    if 200 <= answer.status_code < 300 or answer.status_code == 409:
        return Outcome(True)
    error = f"HTTP {answer.status_code}: {answer.text[:300]}"
    permanent = 400 <= answer.status_code < 500 and answer.status_code not in RETRIED_STATUSES
    return Outcome(False, error, permanent)


class Forwarder:
    """Sends what is due (send_due), on its own thread while `centre serve` runs (start/stop)."""

    def __init__(self, db: Database, config: PlatformConfig, *, time_zone: str | None = None,
                 clock: Callable[[], datetime] = utcnow, rng: random.Random | None = None) -> None:
        self.db, self.config, self.clock = db, config, clock
        self.zone = centre_time_zone(time_zone)
        self.rng = rng or random.Random()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def send_due(self, client: httpx.Client, limit: int | None = None) -> tuple[int, int]:
        """Send records until nothing is due now (or `limit` tries): (sent, failed tries)."""
        sent = failed = 0
        with self.db.connection() as connection:
            with connection.begin():
                mark_dead_letters(connection, self.config, self.clock())
                queue_ledger_updates(connection, self.clock())
            while (limit is None or sent + failed < limit) and not self._stop.is_set():
                with connection.begin():
                    claimed = next_due(connection, self.config, self.zone, self.clock())
                if claimed is None:
                    break
                body = json.dumps(claimed.body, ensure_ascii=False, separators=(",", ":")).encode()
                outcome = post_record(client, self.config, claimed, body, self.clock())
                with connection.begin():
                    if outcome.ok:
                        record_sent(connection, claimed, body.decode(), self.clock())
                        sent += 1
                    else:
                        log.warning("platform: %s not taken: %s", claimed.key, outcome.error)
                        record_failure(connection, claimed, outcome.error, permanent=outcome.permanent,
                                       config=self.config, rng=self.rng, now=self.clock())
                        failed += 1
                if not outcome.ok and not outcome.permanent:
                    break  # the same record comes first again, after its backoff
        return sent, failed

    def run(self) -> None:
        with httpx.Client() as client:
            while not self._stop.is_set():
                try:
                    self.send_due(client)
                except Exception:  # the database away, a bug: logged, tried again next round
                    log.exception("platform: forwarding round failed")
                self._stop.wait(self.config.poll_s)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="platform-forwarder", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)


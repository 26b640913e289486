"""A counter unit's line to the hall's queue host: the host's own local API over the LAN.

Blocking (requests): the app calls it through asyncio.to_thread. Every request has a timeout, so
a host that is off or unplugged costs a counter at most `timeout_s` per attempt and never hangs
the unit; rating keeps working meanwhile, because it never waits for the host.
"""
from __future__ import annotations

import threading
from typing import Any

import requests

from kiosk.refusals import QueueRefused


class QueueHostUnreachable(Exception):
    """No usable answer from the queue host (down, unreachable, or refusing this unit's token)."""


class QueueHostClient:
    def __init__(self, base_url: str, token: str, timeout_s: float) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout_s = timeout_s
        self._session = requests.Session()
        self._lock = threading.Lock()   # a Session is not meant to be shared between threads

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """The host's JSON answer; QueueRefused for its error answers (e.g. 409 queue_empty)."""
        try:
            with self._lock:
                response = self._session.request(method, self.base_url + path, json=body,
                                                 headers=self._headers, timeout=self._timeout_s)
        except requests.RequestException as error:
            raise QueueHostUnreachable(f"queue host {self.base_url} does not answer: {error}") from None
        try:
            payload = response.json()
        except ValueError:
            raise QueueHostUnreachable(f"queue host {self.base_url} answered {response.status_code} "
                                       "without JSON (is that URL a kiosk unit?)") from None
        if response.status_code in (401, 403):
            raise QueueHostUnreachable(f"queue host {self.base_url} refuses this unit's token "
                                       "(set queue.host_token to the host's api.token)")
        if response.status_code >= 400:
            # The host's refusal, passed on as it is (queue_empty stays queue_empty).
            error = payload.get("error", {}) if isinstance(payload, dict) else {}
            error = error if isinstance(error, dict) else {}
            raise QueueRefused(str(error.get("code", "queue_host_error")),
                               str(error.get("message", f"queue host answered {response.status_code}")),
                               host_status=response.status_code)
        if not isinstance(payload, dict):
            raise QueueHostUnreachable(f"queue host {self.base_url} answered something other than an object")
        return payload

    def close(self) -> None:
        with self._lock:
            self._session.close()

"""A small blocking HTTP client for the centre (PROTOCOL.md), around one requests.Session.

Every call has a timeout and verifies TLS (the system CAs, or the CA bundle the unit was
provisioned with). Calls block: the uploader and the bundle refresher run them in a worker thread
with asyncio.to_thread, never on the event loop. One client is used by one task at a time; a lock
makes that true even if a caller gets it wrong, because requests.Session is not thread-safe.
"""
from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

API_PREFIX = "/api/v1"
USER_AGENT = "counter-kiosk-sync"


class Outcome(StrEnum):
    """How the centre answered an upload (or why there was no answer)."""

    OK = "ok"
    GAP = "gap"                      # 409 gap: resend from expected_seq
    CONFLICT = "conflict"            # 409 conflict: the centre holds other events at these seqs
    BAD_SIGNATURE = "bad_signature"  # 422: hash, chain or head signature wrong
    INVALID = "invalid"              # 422: body shape refused
    UNAUTHORIZED = "unauthorized"    # 401: unit token unknown or wrong
    FORBIDDEN = "forbidden"          # 403: a valid token, but of another unit
    REVOKED = "revoked"              # 403: this unit was revoked at the centre
    SERVER_ERROR = "server_error"    # 5xx, or an answer that does not follow the protocol
    NETWORK_ERROR = "network_error"  # no answer: refused, DNS, timeout, TLS


# Refusals that mean "this stream's events will never be accepted as they are": the unit stops
# uploading the stream and keeps every event for a person to look at.
STREAM_STOPPING = frozenset({Outcome.CONFLICT, Outcome.BAD_SIGNATURE, Outcome.INVALID})


@dataclass(frozen=True)
class UploadResult:
    outcome: Outcome
    status: int | None = None
    acked_through: int | None = None
    stored: int = 0
    duplicates: int = 0
    expected_seq: int | None = None
    message: str = ""


class CentreUnreachable(Exception):
    """No HTTP answer from the centre. `kind` is tls, timeout, refused, dns or network."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class CentreRefused(Exception):
    """The centre answered with an error status (outside the upload call, which returns those)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}" if message else f"HTTP {status} {code}")
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class EnrolReply:
    """The centre's answer to an enrolment. On success, `role` and `counter_id` are what the
    centre recorded for the unit (None from a centre that does not say); on a 409
    identity_mismatch they are the record the unit's flags disagreed with."""

    status: int
    unit_token: str | None
    code: str
    message: str
    role: str | None = None
    counter_id: str | None = None


@dataclass(frozen=True)
class Fetched:
    """A GET with If-None-Match: status 200 with content, or 304 with nothing new."""

    status: int
    content: bytes
    etag: str | None
    content_type: str


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def normalise_centre_url(url: str) -> str:
    return url.strip().rstrip("/")


def _has_cause(error: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    """Walk the exception chain (requests → urllib3 → socket) looking for a cause of one kind."""
    seen: set[int] = set()
    stack: list[BaseException] = [error]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kinds):
            return True
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))
        for linked in (current.__cause__, current.__context__, getattr(current, "reason", None)):
            if isinstance(linked, BaseException):
                stack.append(linked)
    return False


def describe_network_error(error: requests.RequestException, url: str, ca_file: Path | None,
                           timeout_s: float) -> CentreUnreachable:
    """Turn what requests raised into one sentence a technician can act on."""
    host = urlsplit(url).netloc or url
    if isinstance(error, requests.exceptions.SSLError):
        if _has_cause(error, (ssl.SSLCertVerificationError,)) or "CERTIFICATE_VERIFY_FAILED" in str(error):
            hint = (f"the CA file {ca_file} does not vouch for it" if ca_file else
                    "if the centre uses a private CA, give its certificate with --ca-file (sync.ca_file)")
            return CentreUnreachable(
                "tls", f"TLS certificate verify failed for {host}: {hint}")
        return CentreUnreachable("tls", f"TLS handshake with {host} failed: {error}")
    if isinstance(error, requests.exceptions.Timeout):
        return CentreUnreachable("timeout", f"the centre at {host} did not answer within {timeout_s:g} s")
    if _has_cause(error, (socket.gaierror,)) or "Name or service not known" in str(error):
        return CentreUnreachable("dns", f"cannot resolve the centre's host name in {url}")
    if _has_cause(error, (ConnectionRefusedError,)) or "Connection refused" in str(error):
        return CentreUnreachable("refused", f"connection refused by {host} (is the centre running, is the port right?)")
    if isinstance(error, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                          requests.exceptions.InvalidSchema)):
        return CentreUnreachable("network", f"not a usable centre URL: {url}")
    return CentreUnreachable("network", f"cannot reach the centre at {host}: {error}")


def error_of(response: requests.Response) -> tuple[str, str, dict[str, Any]]:
    """(code, message, the whole error object) from a PROTOCOL error body; tolerant of others."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("code") or ""), str(error.get("message") or ""), error
    if isinstance(error, str):
        return error, "", {"code": error}
    if response.is_redirect:
        # The client never follows redirects (a POST would lose its body, a token could leak).
        return "redirect", f"redirected to {response.headers.get('Location')}; use that URL", {}
    text = response.text[:200].strip() if response.text else ""
    return "", text, {}


class CentreClient:
    def __init__(self, centre_url: str, *, unit_id: str | None = None, unit_token: str | None = None,
                 ca_file: Path | None = None, timeout_s: float = 10.0,
                 session: requests.Session | None = None) -> None:
        self.centre_url = normalise_centre_url(centre_url)
        self.unit_id = unit_id
        self._unit_token = unit_token
        self.ca_file = Path(ca_file) if ca_file else None
        self.timeout_s = timeout_s
        self._session = session or requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT
        self._lock = threading.Lock()

    def close(self) -> None:
        self._session.close()

    # --- plumbing ------------------------------------------------------------------------

    @property
    def _verify(self) -> bool | str:
        # A path makes requests trust exactly that bundle; True means the system's CAs.
        return str(self.ca_file) if self.ca_file else True

    def url(self, path_or_url: str) -> str:
        return urljoin(self.centre_url + "/", path_or_url)

    def _same_origin(self, url: str) -> bool:
        mine, theirs = urlsplit(self.centre_url), urlsplit(url)
        return (mine.scheme, mine.netloc) == (theirs.scheme, theirs.netloc)

    def _request(self, method: str, url: str, *, authorised: bool = True, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        # The unit token goes only to the centre itself, never to another host a URL points at.
        if authorised and self._unit_token and self._same_origin(url):
            headers["Authorization"] = f"Bearer {self._unit_token}"
        with self._lock:
            try:
                return self._session.request(method, url, headers=headers, timeout=self.timeout_s,
                                             verify=self._verify, allow_redirects=False, **kwargs)
            except requests.RequestException as error:
                raise describe_network_error(error, url, self.ca_file, self.timeout_s) from error

    def _unit_path(self, suffix: str) -> str:
        if not self.unit_id:
            raise ValueError("this client was made without a unit id")
        return self.url(f"{API_PREFIX}/units/{self.unit_id}/{suffix}")

    # --- enrolment -----------------------------------------------------------------------

    def enrol(self, token: str, unit_id: str, public_key: str, *, role: str | None = None,
              counter_id: str | None = None) -> EnrolReply:
        """POST /enrol. `role` and `counter_id`, when given, ask the centre to refuse (without
        using the token) unless they are what it recorded. Raises CentreUnreachable when there
        is no answer."""
        body: dict[str, Any] = {"token": token, "unit_id": unit_id, "public_key": public_key}
        body.update({name: value for name, value in (("role", role), ("counter_id", counter_id)) if value})
        response = self._request("POST", self.url(f"{API_PREFIX}/enrol"), authorised=False, json=body)
        with response:
            if response.status_code in (200, 201):
                try:
                    answer = response.json()
                except ValueError:
                    answer = None
                answer = answer if isinstance(answer, dict) else {}
                unit_token = answer.get("unit_token")
                if isinstance(unit_token, str) and unit_token:
                    return EnrolReply(response.status_code, unit_token, "", "",
                                      _text_or_none(answer.get("role")), _text_or_none(answer.get("counter_id")))
                return EnrolReply(response.status_code, None, "bad_reply",
                                  "the centre accepted the enrolment but sent no unit_token")
            code, message, error = error_of(response)
            return EnrolReply(response.status_code, None, code, message,
                              _text_or_none(error.get("role")), _text_or_none(error.get("counter_id")))

    # --- uploading -----------------------------------------------------------------------

    def upload(self, body: dict[str, Any]) -> UploadResult:
        """POST a batch (or a heartbeat: no events). Never raises for network trouble."""
        try:
            response = self._request("POST", self._unit_path("events"), json=body)
        except CentreUnreachable as error:
            return UploadResult(Outcome.NETWORK_ERROR, message=error.message)
        with response:
            return self._upload_result(response)

    @staticmethod
    def _upload_result(response: requests.Response) -> UploadResult:
        status = response.status_code
        if status == 200:
            try:
                body = response.json()
                return UploadResult(Outcome.OK, status, acked_through=int(body["acked_through"]),
                                    stored=int(body.get("stored", 0)), duplicates=int(body.get("duplicates", 0)))
            except (ValueError, KeyError, TypeError):
                return UploadResult(Outcome.SERVER_ERROR, status,
                                    message=f"the centre's 200 reply is not an acknowledgement: {response.text[:200]}")
        code, message, error = error_of(response)
        if status == 401:
            return UploadResult(Outcome.UNAUTHORIZED, status, message=message or "unit token refused")
        if status == 403:
            outcome = Outcome.REVOKED if code == "revoked" else Outcome.FORBIDDEN
            return UploadResult(outcome, status, message=message or code)
        if status == 409 and code == "gap":
            expected = error.get("expected_seq")
            if isinstance(expected, int) and not isinstance(expected, bool) and expected >= 1:
                return UploadResult(Outcome.GAP, status, expected_seq=expected, message=message)
            return UploadResult(Outcome.SERVER_ERROR, status,
                                message=f"409 gap without a usable expected_seq: {expected!r}")
        if status == 409 and code == "conflict":
            return UploadResult(Outcome.CONFLICT, status, message=message or "conflict")
        if status == 422:
            outcome = Outcome.BAD_SIGNATURE if code == "bad_signature" else Outcome.INVALID
            return UploadResult(outcome, status, message=message or code or "invalid")
        # Anything else (5xx, 404 from a wrong URL, a proxy's 502, an unknown 409) is treated as
        # passing trouble: retried with backoff, never a reason to stop the stream.
        detail = " ".join(part for part in (code, message) if part)
        return UploadResult(Outcome.SERVER_ERROR, status, message=f"HTTP {status} {detail}".strip())

    # --- downloads -----------------------------------------------------------------------

    def fetch(self, path_or_url: str, etag: str | None = None, max_bytes: int = 8 * 1024 * 1024) -> Fetched:
        """GET with If-None-Match; 200 or 304. Raises CentreUnreachable or CentreRefused."""
        url = self.url(path_or_url)
        headers = {"If-None-Match": etag} if etag else {}
        response = self._request("GET", url, headers=headers, stream=True)
        with response:
            if response.status_code == 304:
                return Fetched(304, b"", response.headers.get("ETag") or etag, "")
            if response.status_code != 200:
                code, message, _ = error_of(response)
                raise CentreRefused(response.status_code, code or "http_error", message)
            chunks, size = [], 0
            try:
                # The read timeout applies between chunks; the size cap keeps a broken server
                # from filling the SD card.
                for chunk in response.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > max_bytes:
                        raise CentreRefused(200, "too_large", f"{url} is larger than {max_bytes} bytes")
                    chunks.append(chunk)
            except requests.RequestException as error:
                raise describe_network_error(error, url, self.ca_file, self.timeout_s) from error
            return Fetched(200, b"".join(chunks), response.headers.get("ETag"),
                           response.headers.get("Content-Type", ""))

    def fetch_bundle(self, etag: str | None, max_bytes: int = 4 * 1024 * 1024) -> Fetched:
        return self.fetch(self._unit_path("bundle"), etag, max_bytes)

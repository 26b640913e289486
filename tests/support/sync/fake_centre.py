"""A small stand-in for the centre's server, on 127.0.0.1, for the unit's sync tests.

It implements what PROTOCOL.md says the centre does with enrolments, uploads (the order of checks,
duplicates, conflict, gap, heartbeat) and the bundle (ETag), plus knobs a test needs: refuse the
next uploads with a status, forget events (a centre restored from a backup), alter a stored event.
Plain HTTP/1.0 (one request per connection), so a stopped centre is really gone for the client.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import re
import secrets
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from protocol import MAX_BATCH
from protocol.chain import ChainError, verify_chain
from protocol.signing import load_public_key_b64, verify_head

UPLOAD_PATH = re.compile(r"^/api/v1/units/([^/]+)/events$")
BUNDLE_PATH = re.compile(r"^/api/v1/units/([^/]+)/bundle$")
PHOTO_PATH = re.compile(r"^/api/v1/staff/([^/]+)/photo$")

# Smallest valid PNG (1×1), so the unit's image sniffing sees a real image.
PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


@dataclass
class Unit:
    public_key: str
    unit_token: str
    revoked: bool = False


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class FakeCentre:
    tls: ssl.SSLContext | None = None
    enrolment_tokens: dict[str, str] = field(default_factory=dict)   # token -> unit id
    registered: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # unit id -> (role, counter)
    units: dict[str, Unit] = field(default_factory=dict)
    streams: dict[str, list[dict]] = field(default_factory=dict)     # stream id -> events by seq
    stopped_streams: dict[str, str] = field(default_factory=dict)
    health: list[dict] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    refuse_uploads: list[tuple[int, dict]] = field(default_factory=list)  # answered first, in order
    # The next batches (one entry each) are stored only up to this many new events and
    # acknowledged that far: a centre may acknowledge less than it was sent.
    partial_acks: list[int] = field(default_factory=list)
    bundle: dict = field(default_factory=dict)
    bundle_etag: str = '"b1"'
    photos: dict[str, bytes] = field(default_factory=dict)           # staff id -> image
    photo_failures: int = 0                                         # next N photo GETs answer 500
    no_bundle: bool = False                                         # 404 no_bundle, as before `centre bundle load`
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        centre = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                centre._handle(self, "POST")

            def do_GET(self) -> None:
                centre._handle(self, "GET")

        self._closed = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        if not self.bundle:
            self.bundle = sample_bundle()
            self.photos = {"1001": PNG_1x1}

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # --- test knobs ----------------------------------------------------------------------

    def issue_token(self, unit_id: str, role: str = "both", counter_id: str | None = "1") -> str:
        """As `centre unit add UNIT_ID --role ROLE --counter N` (the default: the built-in sim config's)."""
        token = secrets.token_urlsafe(16)
        self.enrolment_tokens[token] = unit_id
        self.registered[unit_id] = (role, counter_id)
        return token

    def stored(self, stream_id: str) -> list[dict]:
        with self.lock:
            return list(self.streams.get(stream_id, []))

    def forget_after(self, stream_id: str, seq: int) -> None:
        with self.lock:
            del self.streams[stream_id][seq:]

    def uploads(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and UPLOAD_PATH.match(r.path)]

    def batches(self) -> list[Recorded]:
        return [r for r in self.uploads() if r.body.get("events")]

    def heartbeats(self) -> list[Recorded]:
        return [r for r in self.uploads() if r.body.get("events") == []]

    # --- the protocol --------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record = Recorded(method, handler.path, dict(handler.headers), body)
        with self.lock:
            self.requests.append(record)
            status, payload, headers = self._route(method, handler.path, handler.headers, body)
        record.status = status
        data = payload if isinstance(payload, bytes) else (
            json.dumps(payload).encode() if payload is not None else b"")
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        if not isinstance(payload, bytes):
            handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _route(self, method: str, path: str, headers, body) -> tuple[int, Any, dict]:
        if method == "GET" and path == "/healthz":  # as the real centre: `kiosk provision` checks it
            return 200, {"status": "ok"}, {}
        if method == "POST" and path == "/api/v1/enrol":
            return self._enrol(body)
        if method == "POST" and (match := UPLOAD_PATH.match(path)):
            return self._upload(match.group(1), headers, body)
        if method == "GET" and (match := BUNDLE_PATH.match(path)):
            unit, refusal = self._authorise(match.group(1), headers)
            if refusal:
                return refusal
            if self.no_bundle:
                return _error(404, "no_bundle", "the centre has no bundle yet (centre bundle load FILE)")
            if headers.get("If-None-Match") == self.bundle_etag:
                return 304, b"", {"ETag": self.bundle_etag}
            return 200, self.bundle, {"ETag": self.bundle_etag}
        if method == "GET" and (match := PHOTO_PATH.match(path)):
            if self.photo_failures:
                self.photo_failures -= 1
                return _error(500, "internal", "photo store down")
            image = self.photos.get(match.group(1))
            if image is None:
                return _error(404, "not_found", "no photo")
            etag = '"' + hashlib.sha256(image).hexdigest()[:16] + '"'
            if headers.get("If-None-Match") == etag:
                return 304, b"", {"ETag": etag}
            return 200, image, {"ETag": etag, "Content-Type": "image/png"}
        return _error(404, "not_found", path)

    def _enrol(self, body) -> tuple[int, Any, dict]:
        token = body.get("token") if isinstance(body, dict) else None
        unit_id = body.get("unit_id") if isinstance(body, dict) else None
        if self.enrolment_tokens.get(token) != unit_id or unit_id is None:
            return _error(401, "unauthorized", "enrolment token refused")
        role, counter_id = self.registered[unit_id]
        if body.get("role") not in (None, role) or body.get("counter_id") not in (None, counter_id):
            # Refused before the token is used, as the centre does.
            return 409, {"error": {"code": "identity_mismatch", "message": "not what the centre recorded",
                                   "role": role, "counter_id": counter_id}}, {}
        del self.enrolment_tokens[token]
        unit_token = secrets.token_urlsafe(24)
        self.units[unit_id] = Unit(body["public_key"], unit_token)
        return 201, {"unit_token": unit_token, "role": role, "counter_id": counter_id}, {}

    def _authorise(self, unit_id: str, headers) -> tuple[Unit | None, tuple | None]:
        given = (headers.get("Authorization") or "").removeprefix("Bearer ")
        owner = next((uid for uid, u in self.units.items() if u.unit_token == given), None)
        if owner is None:
            return None, _error(401, "unauthorized", "unit token refused")
        if owner != unit_id:
            return None, _error(403, "forbidden", "token of another unit")
        if self.units[owner].revoked:
            return None, _error(403, "revoked", "unit revoked")
        return self.units[owner], None

    def _upload(self, unit_id: str, headers, body) -> tuple[int, Any, dict]:
        unit, refusal = self._authorise(unit_id, headers)
        if refusal:
            return refusal
        if self.refuse_uploads:
            status, error = self.refuse_uploads.pop(0)
            return status, {"error": error}, {}
        if not (isinstance(body, dict) and isinstance(body.get("stream_id"), str)
                and isinstance(body.get("events"), list) and len(body["events"]) <= MAX_BATCH
                and isinstance(body.get("head_sig"), str) and isinstance(body.get("sent_at"), str)
                and isinstance(body.get("health"), dict)):
            return _error(422, "invalid", "body shape")
        stream_id, events = body["stream_id"], body["events"]
        self.health.append(body["health"])
        held = self.streams.setdefault(stream_id, [])
        if not events:
            return 200, {"acked_through": len(held), "stored": 0, "duplicates": 0}, {}
        try:
            verify_chain(events, stream_id)
        except ChainError as error:
            return _error(422, "bad_signature", str(error))
        last = events[-1]
        if not verify_head(load_public_key_b64(unit.public_key), body["head_sig"], stream_id, last["seq"], last["hash"]):
            return _error(422, "bad_signature", "head signature")
        duplicates, new = 0, []
        for event in events:
            if event["seq"] <= len(held):
                if held[event["seq"] - 1]["hash"] != event["hash"]:
                    self.stopped_streams[stream_id] = "conflict"
                    return _error(409, "conflict", f"seq {event['seq']} differs")
                duplicates += 1
            else:
                new.append(event)
        if new:
            if new[0]["seq"] != len(held) + 1:
                return 409, {"error": {"code": "gap", "message": "gap", "expected_seq": len(held) + 1}}, {}
            if new[0]["prev_hash"] != (held[-1]["hash"] if held else ""):
                self.stopped_streams[stream_id] = "conflict"
                return _error(409, "conflict", "chain")
            if self.partial_acks:
                new = new[:self.partial_acks.pop(0)]
        held.extend(new)
        return 200, {"acked_through": len(held), "stored": len(new), "duplicates": duplicates}, {}


def _error(status: int, code: str, message: str) -> tuple[int, Any, dict]:
    return status, {"error": {"code": code, "message": message}}, {}


def sample_bundle(version: str = "2026-11-01") -> dict:
    return {
        "version": version,
        "reasons": [{"code": "510", "label": "等待时间长"}, {"code": "511", "label": "服务态度差"}],
        "staff": [{"staff_id": "1001", "name": "张敏", "title": "综合业务岗", "duties": "缴存、提取业务办理",
                   "photo": "/api/v1/staff/1001/photo"},
                  {"staff_id": "1002", "name": "李建国", "title": "贷款业务岗", "duties": "贷款受理"}],
        "service_items": [{"code": "TQ01", "name": "购房提取", "category": "提取", "time_limit": "即办",
                           "materials": ["身份证原件及复印件", "购房合同"]}],
        "complaint_phone": "12329",
    }


@dataclass
class ThrowawayCA:
    """A throwaway CA and a server certificate for 127.0.0.1, made with `cryptography`."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    def server_context(self, folder: Path) -> ssl.SSLContext:
        cert, key = folder / "server.pem", folder / "server.key"
        cert.write_bytes(self.cert_pem)
        key.write_bytes(self.key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        return context


def make_test_ca() -> ThrowawayCA:
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kiosk test CA")])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
               .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, key_cert_sign=True, crl_sign=True,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return ThrowawayCA(
        ca_cert.public_bytes(serialization.Encoding.PEM),
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption()))

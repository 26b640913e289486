"""A real `centre serve` process, and many uploads of one stream at the same time."""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.centre.centre_process import CentreProcess, add_unit, run_centre
from tests.centre.centre_testkit import ADMIN_TOKEN, HTTP_TIMEOUT_S, SimulatedUnit

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.mark.timeout(120)
def test_centre_serve_enrols_stores_audits_and_revokes(db_url, tmp_path):
    unit = SimulatedUnit("counter-07")
    token = add_unit(db_url, unit.unit_id, counter="7")
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    with CentreProcess(db_url, ADMIN_TOKEN, cwd=workdir) as centre, \
            httpx.Client(base_url=centre.url, timeout=HTTP_TIMEOUT_S) as client:
        enrolled = client.post("/api/v1/enrol", json={"token": token, "unit_id": unit.unit_id,
                                                      "public_key": unit.public_key})
        assert enrolled.status_code == 201
        unit.token = enrolled.json()["unit_token"]
        events = unit.record_many(5)
        path = f"/api/v1/units/{unit.unit_id}/events"
        stored = client.post(path, json=unit.batch(events), headers=unit.auth())
        assert stored.json() == {"acked_through": 5, "stored": 5, "duplicates": 0}
        audit = client.get(path, headers=ADMIN)
        assert audit.json()["events"] == events

        listing = run_centre(db_url, "unit", "list")
        assert listing.returncode == 0 and "counter-07" in listing.stdout and "enrolled" in listing.stdout
        assert run_centre(db_url, "unit", "revoke", unit.unit_id).returncode == 0
        refused = client.post(path, json=unit.batch(unit.record_many(1)), headers=unit.auth())
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "revoked")
        assert len(client.get(path, headers=ADMIN).json()["events"]) == 5
    # The database URL came from CENTRE_DB: no centre.db appeared in the working folder.
    assert list(workdir.iterdir()) == []


@pytest.mark.timeout(120)
def test_centre_serve_with_workers_runs_them_on_one_database(db_url):
    units = [SimulatedUnit(f"counter-{n:02d}") for n in range(1, 5)]
    tokens = [add_unit(db_url, unit.unit_id, counter=unit.unit_id[-1]) for unit in units]
    with CentreProcess(db_url, ADMIN_TOKEN, extra_args=("--workers", "2")) as centre:
        for unit, token in zip(units, tokens):
            # A client (a connection) per unit, so the requests spread over the workers.
            with httpx.Client(base_url=centre.url, timeout=HTTP_TIMEOUT_S) as client:
                enrolled = client.post("/api/v1/enrol", json={"token": token, "unit_id": unit.unit_id,
                                                              "public_key": unit.public_key})
                assert enrolled.status_code == 201, enrolled.text
                unit.token = enrolled.json()["unit_token"]
                stored = client.post(f"/api/v1/units/{unit.unit_id}/events",
                                     json=unit.batch(unit.record_many(3)), headers=unit.auth())
                assert stored.json() == {"acked_through": 3, "stored": 3, "duplicates": 0}
        fleet = httpx.get(f"{centre.url}/api/v1/units", headers=ADMIN, timeout=HTTP_TIMEOUT_S).json()
        assert {u["unit_id"]: u["acked_through"] for u in fleet["units"]} == {u.unit_id: 3 for u in units}
    assert "2 worker processes" in centre.output()


@pytest.mark.timeout(120)
def test_concurrent_uploads_of_one_stream_store_each_event_once(centre):
    """Overlapping batches of a new stream, all sent at once: none stored twice, none skipped."""
    unit = centre.new_unit()
    events = unit.record_many(200)
    slices = [(0, 50), (0, 100), (50, 150), (100, 200), (0, 200), (25, 75), (150, 200), (0, 10)] * 2
    start = threading.Barrier(len(slices))

    def send(bounds: tuple[int, int]) -> tuple[int, dict]:
        with httpx.Client(base_url=centre.base_url, timeout=60) as client:
            body = json.dumps(unit.batch(events[bounds[0]:bounds[1]]))
            start.wait(timeout=30)
            response = client.post(f"/api/v1/units/{unit.unit_id}/events", content=body,
                                   headers={**unit.auth(), "Content-Type": "application/json"})
            return response.status_code, response.json()

    with ThreadPoolExecutor(len(slices)) as pool:
        results = list(pool.map(send, slices))
    stored_total = 0
    for (low, high), (status, body) in zip(slices, results):
        if status == 200:
            assert body["stored"] + body["duplicates"] == high - low
            stored_total += body["stored"]
        else:  # sent before the events it follows were stored: the unit would resend
            assert (status, body["error"]["code"]) == (409, "gap"), body
    acked = centre.fleet(unit.unit_id)["acked_through"]
    if acked < 200:
        response = centre.upload(unit, unit.batch(events[acked:]))
        stored_total += response.json()["stored"]
    assert stored_total == 200
    assert [json.loads(raw) for raw in centre.stored_raw(unit.stream_id)] == events


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "centre test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.mark.timeout(60)
def test_centre_serve_speaks_https_with_a_certificate(tmp_path):
    cert_file, key_file = _self_signed(tmp_path)
    trusted = ssl.create_default_context(cafile=str(cert_file))
    db_url = f"sqlite:///{tmp_path / 'centre.db'}"
    with CentreProcess(db_url, extra_args=("--tls-cert", str(cert_file), "--tls-key", str(key_file)),
                       scheme="https", verify=trusted) as centre:
        healthy = httpx.get(f"{centre.url}/healthz", verify=trusted, timeout=HTTP_TIMEOUT_S)
        assert healthy.json() == {"status": "ok"}
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{centre.url}/healthz", timeout=HTTP_TIMEOUT_S)  # not a CA the system trusts
        disabled = httpx.get(f"{centre.url}/api/v1/units", verify=trusted, timeout=HTTP_TIMEOUT_S)
        assert disabled.json()["error"]["code"] == "admin_disabled"

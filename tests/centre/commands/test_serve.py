"""`centre serve`: a real server process (its database from CENTRE_DB, --workers, HTTPS) while the
`centre` command changes things beside it, and how it runs uvicorn."""
from __future__ import annotations

import datetime as dt
import gc
import ipaddress
import ssl

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from centre.cli import main
from tests.support.centre.process import CentreProcess
from tests.support.centre.testkit import ADMIN_TOKEN, HTTP_TIMEOUT_S, SimulatedUnit, cli, enrolment_token

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.mark.timeout(120)
def test_centre_serve_enrols_stores_audits_and_revokes(db_url, tmp_path, capsys, monkeypatch):
    unit = SimulatedUnit("counter-07")
    token = enrolment_token(db_url, unit.unit_id, counter="7")
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

        # The command beside the running server, on the database it takes from CENTRE_DB as well
        # (in this process: the server is the process under test here).
        monkeypatch.setenv("CENTRE_DB", db_url)
        code, listing, _ = cli(capsys, "unit", "list")
        assert code == 0 and "counter-07" in listing and "enrolled" in listing
        assert cli(capsys, "unit", "revoke", unit.unit_id)[0] == 0
        refused = client.post(path, json=unit.batch(unit.record_many(1)), headers=unit.auth())
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "revoked")
        assert len(client.get(path, headers=ADMIN).json()["events"]) == 5
    # The database URL came from CENTRE_DB: no centre.db appeared in the working folder.
    assert list(workdir.iterdir()) == []


@pytest.mark.timeout(120)
def test_centre_serve_with_workers_runs_them_on_one_database(db_url):
    units = [SimulatedUnit(f"counter-{n:02d}") for n in range(1, 5)]
    tokens = [enrolment_token(db_url, unit.unit_id, counter=unit.unit_id[-1]) for unit in units]
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


@pytest.mark.timeout(60)
def test_serve_runs_uvicorn_on_its_c_parser_and_loop_with_start_up_frozen(monkeypatch, tmp_path):
    import uvicorn
    served: dict = {}

    def run(app, **options) -> None:
        served.update(options, app=app, frozen=gc.get_freeze_count())

    monkeypatch.setattr(uvicorn, "run", run)
    try:
        assert main(["serve", "--db", f"sqlite:///{tmp_path / 'c.db'}"]) == 0
    finally:
        gc.unfreeze()
        if "app" in served:
            served["app"].state.db.dispose()
    from uvicorn.importer import import_from_string
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    assert issubclass(import_from_string(served["http"]), HttpToolsProtocol)  # with its bounds
    assert served["loop"] == "uvloop" and served["timeout_keep_alive"] == 5
    assert served["frozen"] > 10_000  # the garbage collector's full passes leave start-up's objects alone


@pytest.mark.timeout(60)
@pytest.mark.parametrize("args, environment, believed", [
    ([], None, []),
    ([], "10.0.0.5, 10.1.0.0/16", ["10.0.0.5", "10.1.0.0/16"]),
    (["--trusted-proxy", "10.0.0.5", "--trusted-proxy", "::1"], "10.9.9.9", ["10.0.0.5", "::1"]),
])
def test_forwarded_headers_are_believed_only_from_the_trusted_proxies(monkeypatch, tmp_path, args,
                                                                      environment, believed):
    # uvicorn's own default believes X-Forwarded-For from 127.0.0.1: off unless proxies are given.
    import uvicorn
    served: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(options, app=app))
    if environment is None:
        monkeypatch.delenv("CENTRE_TRUSTED_PROXIES", raising=False)
    else:
        monkeypatch.setenv("CENTRE_TRUSTED_PROXIES", environment)
    try:
        assert main(["serve", "--db", f"sqlite:///{tmp_path / 'c.db'}", *args]) == 0
    finally:
        gc.unfreeze()
        served["app"].state.db.dispose()
    assert served["proxy_headers"] is bool(believed)
    assert (served["forwarded_allow_ips"] or []) == believed


def test_a_trusted_proxy_that_is_not_an_address_is_an_error(tmp_path, capsys):
    assert main(["serve", "--db", f"sqlite:///{tmp_path / 'c.db'}", "--trusted-proxy", "*"]) == 1
    assert "--trusted-proxy wants an IP address or network" in capsys.readouterr().err

"""The centre under bodies far over its 4 MiB limit (issue 15.2), against a real `centre serve`
(its memory is what is at stake): a chunked body of 300 MB with no Content-Length, and a
Content-Length of 1 GB with no body. Each is a 413 in the error shape once the limit is reached,
the centre's memory grows by less than 5 MB, and it stops reading: the 413 closes the connection
rather than read on, and discard, the rest."""
from __future__ import annotations

import httpx
import pytest

from centre.web.bodies import DEFAULT_MAX_BODY_BYTES
from tests.fault.results import record
from tests.support.centre.process import CentreProcess, add_unit
from tests.support.centre.testkit import SimulatedUnit
from tests.support.raw_http import memory_kb, send_chunked_until_answered, send_head_only

HOSTILE_BODY_MB = 300
DECLARED_BYTES = 10**9
RSS_GROWTH_LIMIT_KB = 5 * 1024
# Up to the limit is read before a chunked body is known to be over it: the peak may grow by that.
PEAK_GROWTH_LIMIT_KB = DEFAULT_MAX_BODY_BYTES // 1024 + 1024


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_body_over_the_limit_is_refused_without_being_read_whole(tmp_path, request):
    db_url = f"sqlite:///{tmp_path / 'centre.db'}"
    unit = SimulatedUnit("counter-01")
    enrolment_token = add_unit(db_url, unit.unit_id)
    with CentreProcess(db_url) as centre:
        enrolled = httpx.post(f"{centre.url}/api/v1/enrol", json={
            "token": enrolment_token, "unit_id": unit.unit_id, "public_key": unit.public_key})
        unit.token = enrolled.json()["unit_token"]
        upload_path = f"/api/v1/units/{unit.unit_id}/events"
        for _ in range(20):  # warm: the first requests load what every request uses
            assert httpx.post(centre.url + upload_path, json=unit.batch([]),
                              headers=unit.auth()).status_code == 200
        before = memory_kb(centre.proc.pid)
        headers = {**unit.auth(), "Content-Type": "application/json"}
        address = ("127.0.0.1", centre.port)

        chunked = send_chunked_until_answered(address, "POST", upload_path, headers,
                                              HOSTILE_BODY_MB * 1024 * 1024)
        declared = send_head_only(address, "POST", upload_path,
                                  {**headers, "Content-Length": str(DECLARED_BYTES)})
        after = memory_kb(centre.proc.pid)

        for answer in (chunked.answer, declared):
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 413"), answer[:300]
            assert b'"code":"too_large"' in body, answer[:300]
            # It stopped reading: the answer closes the connection.
            assert b"\r\nconnection: close" in head.lower(), head
        assert chunked.body_bytes < HOSTILE_BODY_MB * 1024 * 1024
        grown = {name: after[name] - before[name] for name in after}
        assert grown["VmRSS"] < RSS_GROWTH_LIMIT_KB, grown
        assert grown["VmHWM"] < PEAK_GROWTH_LIMIT_KB, grown
        # And the centre goes on taking uploads.
        assert httpx.post(centre.url + upload_path, json=unit.batch(unit.record_many(3)),
                          headers=unit.auth()).status_code == 200
    record(request.node.nodeid,
           f"a chunked body of up to {HOSTILE_BODY_MB} MB and a Content-Length of 1 GB (limit 4 MiB)",
           {"sent before the 413 (KB)": chunked.body_bytes // 1024, "RSS growth (KB)": grown["VmRSS"],
            "peak RSS growth (KB)": grown["VmHWM"]})

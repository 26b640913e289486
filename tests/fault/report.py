"""`python -m tests.fault.report`: run the bounded reliability suite (the same sizes CI runs) and
write docs/reliability.md with each test, its size, its result and its figures.

PostgreSQL cases run when CENTRE_TEST_PG_URL is set (`source .ci/postgres.sh`), else they show as
skipped. FAULT_SEED=N replays the seeded storms. The exit status is pytest's.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tests.fault.results import RESULTS_ENV

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "docs" / "reliability.md"
# What the report runs: every fault test plus the disk-full test that predates this folder.
SUITE = ("tests/fault", "tests/kiosk/test_app_storage_fault.py")
SUITE_TIMEOUT_S = 1200


@dataclass
class Outcome:
    nodeid: str
    result: str      # passed, FAILED, skipped (why)
    seconds: float
    size: str = ""
    figures: dict | None = None


def nodeid_of(case: ElementTree.Element) -> str:
    """junit's classname "tests.fault.test_crash" + name → pytest's node id."""
    module = case.get("classname", "").replace(".", "/")
    return f"{module}.py::{case.get('name')}"


def outcomes_from_junit(path: Path) -> list[Outcome]:
    outcomes = []
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        result = "passed"
        if case.find("failure") is not None or case.find("error") is not None:
            result = "FAILED"
        elif (skipped := case.find("skipped")) is not None:
            result = f"skipped ({skipped.get('message', '').removeprefix('Skipped: ')})"
        outcomes.append(Outcome(nodeid_of(case), result, float(case.get("time", 0))))
    return outcomes


def attach_records(outcomes: list[Outcome], results_file: Path) -> None:
    records = {}
    if results_file.exists():
        for line in results_file.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            records[entry["test"]] = entry
    for outcome in outcomes:
        entry = records.get(outcome.nodeid)
        if entry:
            outcome.size, outcome.figures = entry["size"], entry["figures"]


def figures_text(figures: dict | None) -> str:
    if not figures:
        return ""
    return "; ".join(f"{name} {value}" for name, value in figures.items())


def render(outcomes: list[Outcome], command: str, total_s: float) -> str:
    passed = sum(o.result == "passed" for o in outcomes)
    failed = sum(o.result == "FAILED" for o in outcomes)
    lines = [
        "# Reliability: faults, fuzzing and security tests, with figures",
        "",
        f"Produced by `{command}` (it runs the bounded suite CI runs and rewrites this page).",
        f"Run {datetime.now().astimezone():%Y-%m-%d %H:%M %z} on {platform.node() or 'this machine'}: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; {passed} passed, {failed} failed, "
        f"{len(outcomes) - passed - failed} skipped, {total_s:.0f} s in all.",
        "",
        "Every process is real and on 127.0.0.1: `kiosk run --sim` units, `kiosk sync --once`,",
        "`centre serve`, and the centre's database (SQLite, PostgreSQL when `CENTRE_TEST_PG_URL` is",
        "set, and a private PostgreSQL cluster for the restart test). Storms are seeded; the seed is in",
        "the figures, and `FAULT_SEED=N` replays one. Longer runs by hand:",
        "`python -m tests.fault.crash --cycles 1000`; `API_FUZZ_EXAMPLES=N` for more generated requests.",
        "",
        "| test | size | result | time | figures |",
        "|---|---|---|---|---|",
    ]
    for o in outcomes:
        lines.append(f"| `{o.nodeid}` | {o.size or '—'} | {o.result} | {o.seconds:.1f} s | "
                     f"{figures_text(o.figures) or '—'} |")
    lines += ["", *EXPLANATIONS, ""]
    return "\n".join(lines)


EXPLANATIONS = [
    "## What each test proves",
    "",
    "- `test_crash.py`: a unit provisioned to a real centre takes a storm of key presses, staff and",
    "  queue actions over its API while it uploads, and is killed with SIGKILL at a random moment of",
    "  each cycle (and once every 10 cycles while it is still starting); the centre is killed with",
    "  SIGKILL mid-upload every few cycles. After the last restart the unit drains and the centre",
    "  must hold exactly the unit's committed events (every field equal, once each, seq 1..N, every",
    "  hash chain intact, one stream), and every acknowledged action (transaction ids, tickets,",
    "  ratings and reasons of the open transaction, counts per event type) must be among them.",
    "  *lost* and *duplicated* count event ids missing from, or repeated at, the centre.",
    "- `test_network.py`: the unit uploads through a loopback TCP proxy (`tests/fault/proxy.py`)",
    "  that in turn black-holes, loses the centre's answers after the centre stored the batch,",
    "  refuses, resets, delays (0.5 s a chunk) and throttles (2 KB/s) the link while citizens rate;",
    "  an upload is forced into each fault. Key-press latency through the unit's API is measured in",
    "  every phase (the only timed assertion: no press over 1 s, half the unit's 2 s upload",
    "  timeout). Afterwards the backlog drains and the centre holds exactly the unit's events.",
    "- `test_checks.py`: the verdicts above fail on a tampered copy (dropped, doubled, swapped,",
    "  altered events, an acknowledgement that was never committed).",
    "- `test_storage_fault.py`: disk full on a real 3 MB tmpfs: out-of-order screen, 503, nothing",
    "  committed lost, recovery by itself when space returns.",
    "- `test_unit_storage.py`: real `kiosk run --sim` processes on broken storage. A state dir on a",
    "  1 MB tmpfs filled by the unit's own writes, kill -9, a restart on the still-full disk: it starts",
    "  out of order (503 storage_unavailable, /healthz answering, the screen shown) and records",
    "  unit.started first once space returns, nothing acknowledged lost. A byte changed in a stored",
    "  event (quick_check still ok): selftest fails, the unit stays out of order naming the seq",
    "  (/healthz, screen, status) and chains nothing onto it. events.db emptied, deleted or replaced",
    "  by an older copy: storage_corrupt, no new stream made, until `kiosk reset-store --yes` (which",
    "  refuses while the unit runs) keeps the old files and starts one. A state dir that is a file:",
    "  one line and exit 2; read-only: the out-of-order screen, one log line, resumes when writable.",
    "- `test_unit_api_hostile.py`: the unit's API under attack. JSON built to break the parser (5,000",
    "  nested `[`, a 5,000-digit number) is 400, never 500; a 100 MB chunked body and a 1 GB",
    "  Content-Length are refused at the 64 KB limit (RSS grows < 5 MB); 300 wrong tokens in a row are",
    "  20 × 401 then 429; 1,100 connections trickling their headers from one address: at most 32",
    "  held, all cut at the 10 s head deadline, another address served meanwhile; a trickled body 408.",
    "- `test_centre_disk_full.py`: the centre's SQLite database on a real 8 MB tmpfs, filled but for",
    "  room for one batch; a unit's 2,000-event backlog uploaded by `kiosk sync --once` fills the",
    "  rest. The centre answers 503 storage_unavailable (JSON, Retry-After, one log line, no",
    "  traceback), the unit keeps every unacknowledged event, and once the filler is deleted the",
    "  backlog drains and the centre holds every event exactly once. (8 MB, not less: SQLite keeps up",
    "  to 4 MB of WAL before it checkpoints, and the whole backlog must fit once space returns.)",
    "- `test_database_restart.py`: a private PostgreSQL cluster (initdb and pg_ctl as the postgres",
    "  user, its own port) crashes (`pg_ctl stop -m immediate`) while `kiosk sync --once` uploads a",
    "  12,000-event backlog, and starts again 2 s later. While it is down the centre answers 503",
    "  storage_unavailable; it recovers by itself (pool pre-ping), and the drain that follows leaves",
    "  every event at the centre exactly once, seq gap-free, chain intact, one stream.",
    "- `test_api_schemas.py` (schemathesis): every operation of the centre's OpenAPI document",
    "  (built from `app.openapi()`; the centre does not serve it) and of the unit's (served behind its",
    "  token at /v1/openapi.json by a `kiosk run --sim`) gets generated requests that fit the document",
    "  and requests that do not, with the tokens, session cookie and CSRF token that get them past",
    "  authentication. No answer may be a 5xx; every undocumented error must be",
    "  {\"error\": {\"code\", \"message\"}} (the dashboard's refusals may be HTML pages); every answer",
    "  must pass schemathesis' status, content-type and response-schema checks. The unit's document",
    "  must list exactly the routes of its app, in sim and device mode.",
    "- `test_clock.py`: a unit on an injected clock that booted unsynchronised has its wall clock",
    "  set back an hour, then forward two, between events: seq stays 1..N, the chain verifies, and a",
    "  rating window opens and closes by the monotonic clock alone. The centre records a heartbeat",
    "  sent an hour behind or ahead as clock_offset_ms of about +3,600,000 or -3,600,000.",
    "- `test_fuzz.py` (hypothesis; `FUZZ_EXAMPLES=N` for more): any mapping and any text file give",
    "  settings or ConfigError, never another exception; a valid signed chain with a field altered,",
    "  events reordered, dropped or duplicated, or a signature bit flipped is never accepted by the",
    "  verifier plus the centre's batch checks (an unmutated one is); tickets and notices of any",
    "  Chinese, emoji, control or other text never crash and decode back to the same text (control",
    "  characters print as a space or \"?\", never as printer commands).",
    "- `test_security.py`: more than 20 wrong bearer tokens from one address in 60 s are answered",
    "  429 rate_limited with Retry-After (successes are not counted); a signed batch replayed under",
    "  another unit, a revoked unit's batch and wrong tokens of the right length are refused with",
    "  nothing stored; the unit API listens on 127.0.0.1 by default and a running unit listens",
    "  nowhere else; no unit token, enrolment token or private key appears in any output of a unit",
    "  provisioned (with -v) and syncing to a centre, or of that centre. Forged and altered batches,",
    "  another unit's stream, revocation (tests/centre/units/test_upload.py) and 0600 secrets",
    "  (tests/sync/test_provision.py) are tested where they were built.",
    "- `test_centre_bodies.py`: a real `centre serve` is sent a 300 MB chunked body without",
    "  Content-Length and a Content-Length of 1 GB without a body: both are 413 too_large once the",
    "  4 MiB limit is reached, the 413 closes the connection (the centre stops reading), and the",
    "  centre's RSS grows less than 5 MB (its peak by no more than the limit and 1 MiB).",
    "- `test_centre_hostile_input.py`: uploads built to break the centre (100,000 nested `[`, 3,000",
    "  levels inside `events`, 33 inside an event's data, `wall_time`/`sent_at` UTC cannot hold,",
    "  `seq`, `mono_ns`, `health.backlog` 2**70, `disk_free_mb`/`uptime_s` 1e300, NUL characters,",
    "  a 500-character transaction id) are each `422 invalid` naming the field, nothing is stored",
    "  and the unit's next batch is taken; enrolment, bundle, holidays, the audit trail and the",
    "  login form given the same classes of input answer 4xx, on SQLite and PostgreSQL.",
    "- `test_report_formulas.py`: counters and staff whose ids are `=cmd|' /C calc'!A0`, `=1+2`,",
    "  `@SUM(…)`, `+1`, `-2`, a tab, `#REF!` or a control character, downloaded by a viewer: no",
    "  `<f>` in any sheet of the XLSX (every text cell an inline string with the quote prefix), CSV",
    "  text cells starting with = + - @ tab CR get a leading `'`, the points (−4) stay numbers in",
    "  both, and the JSON report keeps the ids as sent.",
    "- `test_login_limit.py`: against a real `centre serve`, five wrong passwords for one name lock",
    "  that name only (a colleague at the same address logs in), and a 25-name password spray",
    "  naming a new X-Forwarded-For in each request is refused after the address's 20 failures",
    "  (the header is ignored without `--trusted-proxy`). With `--trusted-proxy 127.0.0.1`, each",
    "  forwarded address is counted apart, and a client that is not the proxy (127.0.0.2) is",
    "  counted as itself whatever it names.",
    "- `test_centre_slow_clients.py`: a real `centre serve` holds 200 slowloris connections (a",
    "  header byte a second), 5 bodies that stop coming and a header without end: a health check and",
    "  an upload are answered meanwhile, every slow head is closed at its 10 s deadline, each",
    "  stalled body gets 408, the endless header 431; 306 idle connections from one address: the 50",
    "  beyond its cap are closed as they open, while another address is answered.",
    "- `test_untrusted_unit.py`: a unit enrolled as counter 5 uploads, with its own rated",
    "  transaction, a 非常不满意 and a transaction at counter 99, ratings dated 2099 and 1970 and an",
    "  undocumented `evil.type`. Nothing is refused and no stream stops (the audit trail gives",
    "  back every event as sent), but none of the claims counts: `centre report` has only window 5",
    "  (+1 point; before, 99 had a row with −4), no 差评 ledger entry, one callback candidate, the",
    "  dashboard shows no 差评; fleet health (API and page) lists each claim with its reason.",
]


def run_suite(pytest_args: list[str]) -> tuple[list[Outcome], int, float]:
    with tempfile.TemporaryDirectory(prefix="reliability-") as scratch:
        junit = Path(scratch) / "junit.xml"
        results = Path(scratch) / "results.jsonl"
        env = {**os.environ, RESULTS_ENV: str(results), "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
        started = datetime.now().timestamp()
        done = subprocess.run([sys.executable, "-m", "pytest", *SUITE, "-p", "no:cacheprovider", "-q",
                               f"--junitxml={junit}", *pytest_args], cwd=ROOT, env=env,
                              timeout=SUITE_TIMEOUT_S)
        total_s = datetime.now().timestamp() - started
        if not junit.exists():
            raise SystemExit(f"pytest wrote no results (exit {done.returncode})")
        outcomes = outcomes_from_junit(junit)
        attach_records(outcomes, results)
    return outcomes, done.returncode, total_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fault.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUTPUT, help=f"where to write (default {OUTPUT})")
    parser.add_argument("pytest_args", nargs="*", help="passed on to pytest (after --), e.g. -k crash")
    args = parser.parse_args(argv)
    outcomes, status, total_s = run_suite(args.pytest_args)
    args.out.write_text(render(outcomes, "python -m tests.fault.report", total_s), encoding="utf-8")
    print(f"wrote {args.out} ({len(outcomes)} tests, pytest exit {status})")
    return status


if __name__ == "__main__":
    sys.exit(main())

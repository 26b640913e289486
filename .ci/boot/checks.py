"""Checks that .ci/systemd-boot.sh runs inside the booted Debian root, with the unit's own Python
(/opt/kiosk/bin/python, stdlib and the installed project only): the unit's and the centre's APIs
over the root's loopback, the hash chain they hold, and the priorities journald stored.

    checks.py record                      sign in, complete, press a key; prints what was acknowledged
    checks.py unit-log ACKED [--clock-synced yes|no]   the unit's log holds it, chain valid
    checks.py drain                       the unit uploads its backlog to the centre now
    checks.py centre-log ACKED            the centre holds the same, chain valid
    checks.py priorities < journal.json   each `level=` line at its syslog priority

Exit status 0 when the check holds; otherwise 1 and a line saying what is wrong.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
import urllib.error
import urllib.request
from typing import Any

from protocol.chain import ChainError, verify_chain

UNIT_CONFIG = "/etc/kiosk/kiosk.toml"
CENTRE_ENV = "/etc/centre/centre.env"
CENTRE_URL = "http://127.0.0.1:8800"
HTTP_TIMEOUT_S = 15
PAGE = 1000
PRIORITY_BY_LEVEL = {"critical": 2, "error": 3, "warning": 4, "info": 6, "debug": 7}


class CheckFailed(Exception):
    pass


def call(method: str, url: str, token: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as error:
        raise CheckFailed(f"{method} {url}: HTTP {error.code} {error.read(500).decode(errors='replace')}") from None
    except OSError as error:
        raise CheckFailed(f"{method} {url}: {error}") from None


def unit_api() -> tuple[str, str, dict[str, Any]]:
    with open(UNIT_CONFIG, "rb") as file:
        config = tomllib.load(file)
    return f"http://{config['api']['listen']}", config["api"]["token"], config


def centre_token() -> str:
    with open(CENTRE_ENV, encoding="utf-8") as file:
        for line in file:
            name, _, value = line.strip().partition("=")
            if name == "CENTRE_ADMIN_TOKEN":
                return value
    raise CheckFailed(f"{CENTRE_ENV} has no CENTRE_ADMIN_TOKEN")


def record() -> dict[str, Any]:
    base, token, config = unit_api()
    staff_id = config["staff"][0]["staff_id"]
    signed_in = call("POST", f"{base}/v1/staff/sign-in", token, {"staff_id": staff_id})
    completed = call("POST", f"{base}/v1/transactions/complete", token, {"service_item": "提取"})
    pressed = call("POST", f"{base}/v1/sim/keys/1/press", token, {})
    acked = {"types": signed_in["events"] + ["transaction.completed"] + pressed["events"],
             "transaction_id": completed["transaction_id"]}
    if "rating.submitted" not in acked["types"]:
        raise CheckFailed(f"the key press recorded no rating: {pressed}")
    return acked


def read_all(url: str, token: str, after_name: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while True:
        page = call("GET", f"{url}?{after_name}={events[-1]['seq'] if events else 0}&limit={PAGE}", token)["events"]
        if not page:
            return events
        events += page


def holds(events: list[dict[str, Any]], acked: dict[str, Any], where: str) -> str:
    """Checks the chain and that every acknowledged action is there; returns the stream id."""
    if not events:
        raise CheckFailed(f"{where}: no events")
    stream_id = events[0]["stream_id"]
    try:
        verify_chain(events, stream_id)
    except ChainError as error:
        raise CheckFailed(f"{where}: chain broken: {error}") from None
    types = [event["type"] for event in events]
    missing = [kind for kind in acked["types"] if kind not in types]
    if missing:
        raise CheckFailed(f"{where}: acknowledged but not recorded: {missing} (has {types})")
    if not any(event["data"].get("transaction_id") == acked["transaction_id"] for event in events):
        raise CheckFailed(f"{where}: transaction {acked['transaction_id']} not recorded")
    print(f"{where}: {len(events)} events, seq 1-{events[-1]['seq']}, chain valid, "
          f"{', '.join(dict.fromkeys(acked['types']))} and transaction {acked['transaction_id']} recorded")
    return stream_id


def unit_log(acked: dict[str, Any], clock_synced: bool | None) -> None:
    base, token, _ = unit_api()
    events = read_all(f"{base}/v1/events", token, "after")
    holds(events, acked, "unit")
    if clock_synced is not None:
        rating = [event for event in events if event["type"] == "rating.submitted"][-1]
        if rating["clock_synced"] is not clock_synced:
            raise CheckFailed(f"the service recorded clock_synced={rating['clock_synced']}; outside "
                              f"its sandbox the kernel says {clock_synced}")
        print(f"unit: the rating says clock_synced={rating['clock_synced']}, as the kernel does")


def drain() -> None:
    base, token, _ = unit_api()
    answer = call("POST", f"{base}/v1/sync/drain", token, {})
    if answer.get("outcome") != "ok" or answer.get("backlog") != 0:
        raise CheckFailed(f"the upload did not go through: {answer}")
    print(f"drain: {answer['sent']} sent, {answer['stored']} stored, backlog {answer['backlog']}")


def centre_log(acked: dict[str, Any]) -> None:
    _, _, config = unit_api()
    unit_id = config["unit"]["id"]
    events = read_all(f"{CENTRE_URL}/api/v1/units/{unit_id}/events", centre_token(), "after_seq")
    holds(events, acked, f"centre ({unit_id})")


def priorities(lines: list[str]) -> None:
    """journalctl -o json lines of the unit's stdout: PRIORITY matches the line's level."""
    counted: dict[str, int] = {}
    for line in lines:
        entry = json.loads(line)
        message = entry.get("MESSAGE", "")
        if isinstance(message, list):  # journald's form for a message that is not UTF-8
            message = bytes(message).decode("utf-8", "replace")
        if re.match(r"<\d>", message):
            raise CheckFailed(f"a prefix reached the journal as text: {message[:120]}")
        match = re.match(r"level=(\w+) ", message)
        if not match:
            continue
        level = match.group(1)
        wanted = PRIORITY_BY_LEVEL.get(level)
        if str(wanted) != entry.get("PRIORITY"):
            raise CheckFailed(f"PRIORITY={entry.get('PRIORITY')} for a {level} line: {message[:120]}")
        counted[level] = counted.get(level, 0) + 1
    if not counted.get("warning"):
        raise CheckFailed(f"no warning line to check (lines by level: {counted})")
    print("journal priorities as logged: " + ", ".join(
        f"{count} {level} at {PRIORITY_BY_LEVEL[level]}" for level, count in sorted(counted.items())))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("record")
    unit = commands.add_parser("unit-log")
    unit.add_argument("acked")
    unit.add_argument("--clock-synced", choices=("yes", "no"))
    commands.add_parser("drain")
    commands.add_parser("centre-log").add_argument("acked")
    commands.add_parser("priorities")
    args = parser.parse_args(argv)
    try:
        if args.command == "record":
            print(json.dumps(record()))
        elif args.command == "drain":
            drain()
        elif args.command == "priorities":
            priorities(sys.stdin.read().splitlines())
        else:
            with open(args.acked, encoding="utf-8") as file:
                acked = json.load(file)
            if args.command == "unit-log":
                unit_log(acked, None if args.clock_synced is None else args.clock_synced == "yes")
            else:
                centre_log(acked)
    except CheckFailed as failure:
        print(f"check failed: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

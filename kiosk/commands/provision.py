"""`kiosk provision`: the technician's one step after deploy.sh.

Asks (on a terminal) or takes from flags the centre URL, unit id and enrolment token, checks each
answer as it is given, enrols the unit (sync.provision keeps the key, unit token, centre URL, role
and counter in the state dir), then writes the unit's config atomically. The role and counter are
the centre's, from the enrolment answer (`centre unit add` recorded them): `--role` and `--counter`
only confirm them, and the centre refuses a disagreement without using the token. The config is
written only after the centre accepted the unit, so a refused token leaves the unit as it was. The
event store is never touched: a re-provisioned unit keeps its events, and the unsent ones upload
under the new token.

`provision_command` is the enrolment step alone, into the state dir of a unit whose config is
already settled (and the whole of `kiosk provision --sim` on the built-in sim config).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TextIO

import requests

from sync.files import write_atomic
from sync.provision import (
    ROLES, UNIT_ID_PATTERN, ProvisionError, ProvisionResult, check_centre_url, provision_unit,
)

from kiosk.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from kiosk.config import ConfigError, Settings, settings_from_mapping
from kiosk.events import store_in_use
from kiosk.paths import events_db

CONFIG_MODE = 0o640            # root:kiosk: the service reads it, only root changes it
COUNTER_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,16}$")
# The example config's API token; a unit must never keep it.
PLACEHOLDER_TOKENS = {"replace-with-a-long-random-token", "sim"}
CENTRE_CHECK_TIMEOUT_S = 5.0
MAX_ATTEMPTS = 3


class AnswerError(ValueError):
    """An answer that cannot be used; str() says what is expected."""


@dataclass
class Answers:
    centre_url: str | None = None
    unit_id: str | None = None
    role: str | None = None
    counter_id: str | None = None
    token: str | None = None
    ca_file: Path | None = None


# ---- checks, one per answer -------------------------------------------------------------------

def check_centre(url: str, ca_file: Path | None) -> str:
    """A well-formed https URL (http only to this machine) of a centre that answers /healthz."""
    try:
        url = check_centre_url(url.strip())
    except ProvisionError as error:
        raise AnswerError(str(error)) from None
    verify: bool | str = str(ca_file) if ca_file else True
    try:
        response = requests.get(url + "/healthz", timeout=CENTRE_CHECK_TIMEOUT_S, verify=verify,
                                allow_redirects=False)
    except requests.exceptions.SSLError as error:
        raise AnswerError(f"{url}: its TLS certificate is not trusted ({error.__class__.__name__}); "
                          "give the centre's CA with --ca-file") from None
    except requests.RequestException as error:
        raise AnswerError(f"{url} does not answer ({error.__class__.__name__}); check the URL and "
                          "the network") from None
    if response.status_code != 200:
        raise AnswerError(f"{url}/healthz answered HTTP {response.status_code}: is this the centre?")
    return url


def check_unit_id(unit_id: str) -> str:
    unit_id = unit_id.strip()
    if not UNIT_ID_PATTERN.match(unit_id):
        raise AnswerError("use 1-64 letters, digits, '.', '_' or '-' (as given to `centre unit add`)")
    return unit_id


def check_role(role: str) -> str:
    role = role.strip().lower()
    if role not in ROLES:
        raise AnswerError(f"one of {', '.join(ROLES)}")
    return role


def check_counter(counter_id: str) -> str:
    counter_id = counter_id.strip()
    if not COUNTER_ID_PATTERN.match(counter_id):
        raise AnswerError("the window's number or name: 1-16 letters, digits, '.', '_' or '-'")
    return counter_id


def check_token(token: str) -> str:
    token = token.strip()
    if len(token) < 8 or any(char.isspace() for char in token):
        raise AnswerError("the one-time token `centre unit add` printed (no spaces)")
    return token


# ---- collecting the answers -------------------------------------------------------------------

def missing_answers(answers: Answers) -> list[str]:
    """Role and counter are never missing: the centre says them."""
    return [flag for flag, value in (("--centre", answers.centre_url), ("--unit-id", answers.unit_id),
                                     ("--token", answers.token)) if not value]


def check_given(answers: Answers) -> Answers:
    """Check the answers given as flags; raises AnswerError naming the flag."""
    checks: list[tuple[str, str, Callable[[str], str]]] = [
        ("--unit-id", "unit_id", check_unit_id), ("--role", "role", check_role),
        ("--counter", "counter_id", check_counter), ("--token", "token", check_token),
        ("--centre", "centre_url", lambda url: check_centre(url, answers.ca_file)),
    ]
    for flag, attribute, check in checks:
        value = getattr(answers, attribute)
        if value:
            try:
                setattr(answers, attribute, check(value))
            except AnswerError as error:
                raise AnswerError(f"{flag} {value!r}: {error}") from None
    return answers


def ask_missing(answers: Answers, read: Callable[[str], str], out: TextIO) -> Answers:
    """Ask for each missing answer on the terminal, checking it at once; three tries each."""

    def ask(prompt: str, check: Callable[[str], str], default: str | None = None) -> str:
        shown = f"{prompt} [{default}]: " if default else f"{prompt}: "
        for _ in range(MAX_ATTEMPTS):
            given = read(shown).strip() or (default or "")
            try:
                return check(given)
            except AnswerError as error:
                print(f"  {error}", file=out)
        raise AnswerError(f"{prompt}: no usable answer after {MAX_ATTEMPTS} tries")

    if not answers.centre_url:
        answers.centre_url = ask("Centre URL (e.g. https://centre.example)",
                                 lambda url: check_centre(url, answers.ca_file))
    if not answers.unit_id:
        answers.unit_id = ask("Unit id (as in `centre unit add`)", check_unit_id)
    if not answers.token:
        answers.token = ask("Enrolment token (from `centre unit add`)", check_token)
    return answers


# ---- the config file ----------------------------------------------------------------------------

def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # A JSON string with ensure_ascii=False uses only escapes TOML's basic strings also have.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


def _dump_table(table: dict[str, Any], path: list[str], lines: list[str]) -> None:
    plain = {k: v for k, v in table.items() if not isinstance(v, dict) and not _is_table_list(v)}
    for key, value in plain.items():
        lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in table.items():
        if isinstance(value, dict):
            lines.extend(["", "[" + ".".join(_toml_key(p) for p in [*path, key]) + "]"])
            _dump_table(value, [*path, key], lines)
        elif _is_table_list(value):
            for item in value:
                lines.extend(["", "[[" + ".".join(_toml_key(p) for p in [*path, key]) + "]]"])
                _dump_table(item, [*path, key], lines)


def dump_toml(raw: dict[str, Any], header: str) -> str:
    """TOML for a config mapping; checked by reading it back, so it is never written wrong."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    _dump_table(raw, [], lines)
    text = "\n".join(lines).strip("\n") + "\n"
    if tomllib.loads(text) != raw:
        raise ConfigError("the config could not be written as TOML without changing it")
    return text


def read_raw_config(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: cannot read it as TOML: {error}") from None


def provisioned_config(base: dict[str, Any], answers: Answers, state_dir: Path | None,
                       role: str | None, counter_id: str | None) -> dict[str, Any]:
    """The unit's config with the answers and the centre's role and counter in it (None: the
    base's stands); the rest of the technician's settings kept."""
    raw = json.loads(json.dumps(base))  # a deep copy
    unit = raw.setdefault("unit", {})
    unit["id"] = answers.unit_id
    if role:
        unit["role"] = role
    if counter_id:
        unit["counter_id"] = counter_id
    if state_dir is not None:
        unit["state_dir"] = str(state_dir)
    raw.setdefault("sync", {})["centre_url"] = answers.centre_url
    if answers.ca_file is not None:
        raw["sync"]["ca_file"] = str(Path(answers.ca_file).resolve())
    api = raw.setdefault("api", {})
    if not api.get("token") or api["token"] in PLACEHOLDER_TOKENS:
        api["token"] = secrets.token_hex(24)
    if unit.get("role", "counter") != "counter":
        # A dispenser or a small office keeps the queue itself: it calls no queue host.
        queue = raw.get("queue", {})
        queue.pop("host_url", None)
        queue.pop("host_token", None)
    return raw


def _config_owner(config_out: Path) -> tuple[tuple[int, int] | None, int]:
    """Keep an existing file's owner and mode; a new one gets the folder's group, mode 0640."""
    if config_out.exists():
        info = config_out.stat()
        return ((info.st_uid, info.st_gid) if os.geteuid() == 0 else None), info.st_mode & 0o777
    parent = config_out.parent.stat()
    return ((0, parent.st_gid) if os.geteuid() == 0 else None), CONFIG_MODE


# ---- the commands --------------------------------------------------------------------------------

class _Failed(Exception):
    """A step of `kiosk provision` failed; it has said why on stderr. `status` is the exit code."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _enrol(settings: Settings, centre_url: str | None, unit_id: str | None, token: str,
           ca_file: Path | None, role: str | None, counter_id: str | None, out: TextIO,
           err: TextIO) -> ProvisionResult:
    """Enrol into the settings' state dir and print what was written; raises _Failed."""
    centre_url = centre_url or settings.sync.centre_url
    unit_id = unit_id or settings.unit.id
    ca_file = ca_file or settings.sync.ca_file
    if not centre_url:
        print("kiosk provision: give the centre's URL with --centre (or sync.centre_url in the config)", file=err)
        raise _Failed(EXIT_USAGE)
    state_dir = settings.state_dir
    try:
        result = provision_unit(state_dir, centre_url, unit_id, token, ca_file=ca_file,
                                timeout_s=settings.sync.timeout_s, role=role, counter_id=counter_id)
    except ProvisionError as error:
        print(f"kiosk provision: {error}", file=err)
        raise _Failed(EXIT_FAILED) from None
    identity = result.identity
    print(f"enrolled unit {result.unit_id} at {result.centre_url}", file=out)
    if identity.role:
        counter = f", counter {identity.counter_id}" if identity.counter_id else ""
        print(f"  as           role {identity.role}{counter} (the centre's record)", file=out)
    else:
        print("  as           the centre did not say the role and counter (an older centre?): the "
              "config's stand", file=out)
    print(f"  public key   {result.public_key}", file=out)
    print(f"  private key  {result.key_path} (mode 0600)", file=out)
    print(f"  unit token   {result.token_path} (mode 0600)", file=out)
    print(f"  centre       {result.centre_path}", file=out)
    if result.ca_path:
        print(f"  CA bundle    {result.ca_path}", file=out)
    db_path = events_db(state_dir)
    if db_path.exists():
        print(f"  event store  {db_path} kept as it was; its backlog uploads under the new token", file=out)
    if store_in_use(db_path):
        print("note: the kiosk service is running with the old provisioning; restart it to use the new one",
              file=out)
    return result


def provision_command(settings: Settings, centre_url: str | None, unit_id: str | None, token: str,
                      ca_file: Path | None, *, role: str | None = None, counter_id: str | None = None,
                      out: TextIO | None = None, err: TextIO | None = None) -> int:
    """The enrolment step alone, into the settings' state dir (no config file is written: the sim
    unit on the built-in config). centre_url / unit_id / ca_file default to the config's
    sync.centre_url, unit.id and sync.ca_file; role / counter_id only confirm the centre's."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        result = _enrol(settings, centre_url, unit_id, token, ca_file, role, counter_id, out, err)
    except _Failed as failed:
        return failed.status
    config = settings.unit
    identity = result.identity
    if (identity.unit_id, identity.role or config.role, identity.counter_id or config.counter_id) != (
            config.id, config.role, config.counter_id):
        print(f"note: the config says unit {config.id}, role {config.role}, counter {config.counter_id}; "
              f"`kiosk run` with --state-dir {settings.state_dir} runs as the centre's {identity.describe()}",
              file=out)
    return EXIT_OK


def config_out_problem(config_out: Path) -> str | None:
    """Why the config cannot be written there, if it cannot; checked before anything is asked or
    sent, since an enrolment token is used up by the centre once it accepts it."""
    folder = config_out.parent
    if not folder.is_dir():
        return (f"{folder} does not exist, so {config_out} cannot be written: on a unit, run deploy.sh "
                "first (it makes it); elsewhere give --config-out PATH, or provision a sim unit with "
                "--sim --state-dir DIR")
    if not os.access(folder, os.W_OK | os.X_OK) or (config_out.exists() and not os.access(config_out, os.W_OK)):
        return f"cannot write {config_out} (run with sudo?)"
    return None


def provision_interactive_command(answers: Answers, *, config_in: Path | None, config_out: Path,
                                  state_dir: Path | None, stdin: TextIO | None = None,
                                  out: TextIO | None = None, err: TextIO | None = None) -> int:
    stdin, out, err = stdin or sys.stdin, out or sys.stdout, err or sys.stderr
    problem = config_out_problem(config_out)
    if problem is not None:
        print(f"kiosk provision: {problem}", file=err)
        return EXIT_FAILED
    try:
        answers = check_given(answers)
    except AnswerError as error:
        print(f"kiosk provision: {error}", file=err)
        return EXIT_USAGE
    missing = missing_answers(answers)
    if missing:
        if not stdin.isatty():
            print(f"kiosk provision: missing {', '.join(missing)}, and there is no terminal to ask on; "
                  "give them as flags (see kiosk provision --help)", file=err)
            return EXIT_USAGE

        def read(prompt: str) -> str:
            print(prompt, end="", file=out, flush=True)
            line = stdin.readline()
            if not line:
                raise AnswerError("input ended")
            return line

        try:
            answers = ask_missing(answers, read, out)
        except AnswerError as error:
            print(f"kiosk provision: {error}", file=err)
            return EXIT_USAGE

    base_path = config_in or config_out
    header = (f"Unit configuration, written by `kiosk provision` (from {base_path}).\n"
              "The commented example is config/counter.toml in the source tree.")
    try:
        base = read_raw_config(base_path)
        # Checked before enrolling with the role and counter given (or the config's): a config
        # that cannot work is said now, while the token is still good.
        settings: Settings = settings_from_mapping(
            provisioned_config(base, answers, state_dir, answers.role, answers.counter_id), str(config_out))
    except ConfigError as error:
        print(f"kiosk provision: {error}", file=err)
        return EXIT_USAGE
    try:
        result = _enrol(settings, answers.centre_url, answers.unit_id, answers.token or "", answers.ca_file,
                        answers.role, answers.counter_id, out, err)
    except _Failed as failed:
        return failed.status
    identity = result.identity
    role, counter_id = identity.role or settings.unit.role, identity.counter_id or settings.unit.counter_id
    by_hand = (f"set unit.id={answers.unit_id!r}, unit.role={role!r}, unit.counter_id={counter_id!r}, "
               f"sync.centre_url={answers.centre_url!r} there by hand (`kiosk run` takes the centre's unit "
               f"id, role and counter from {settings.state_dir} meanwhile)")
    try:
        raw = provisioned_config(base, answers, state_dir, identity.role, identity.counter_id)
        settings_from_mapping(raw, str(config_out))
        text = dump_toml(raw, header)
    except ConfigError as error:
        print(f"kiosk provision: the unit is enrolled, but the config does not take the centre's "
              f"{identity.describe()}: {error}; {by_hand}", file=err)
        return EXIT_FAILED
    owner, mode = _config_owner(config_out)
    try:
        write_atomic(config_out, text.encode("utf-8"), mode, owner)
    except OSError as error:
        print(f"kiosk provision: the unit is enrolled, but {config_out} could not be written ({error}); "
              f"{by_hand}", file=err)
        return EXIT_FAILED
    counter = f", counter {counter_id}" if role in ("counter", "both") else ""
    print(f"config       {config_out} (role {role}{counter})", file=out)
    print("next: sudo systemctl restart kiosk, then: sudo -u kiosk /opt/kiosk/bin/kiosk selftest", file=out)
    return EXIT_OK

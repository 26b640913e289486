"""`kiosk provision` as the technician runs it: flags or questions, each answer checked, the config
written atomically, the event store kept; and the enrolment step alone (`provision_command`)."""
from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from kiosk import cli
from kiosk.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from kiosk.commands.provision import Answers, dump_toml, provision_command, provision_interactive_command
from kiosk.config import load_settings
from kiosk.events import EventStore
from kiosk.paths import events_db
from sync.paths import CENTRE_FILE_NAME
from tests.support.sync.fake_centre import FakeCentre
from tests.support.sync.helpers import UNIT_ID, append_events, make_settings, run_async

pytestmark = pytest.mark.timeout(120)
REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "config" / "counter.toml"
ENV = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}


class Terminal(io.StringIO):
    """Typed answers, one per line, on what the command takes for a terminal."""

    def isatty(self) -> bool:
        return True


def kiosk_process(*args: str) -> subprocess.CompletedProcess:
    """`kiosk ARGS` as its own process, stdin not a terminal."""
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True,
                          env=ENV, timeout=60, stdin=subprocess.DEVNULL)


def kiosk(*args: str) -> subprocess.CompletedProcess:
    """`kiosk ARGS` through the same kiosk.cli.main, in this process (a process start costs more
    than the command): stdin is not a terminal, stdout and stderr (log lines too: the command
    logs to stdout) are captured, the logging set-up it makes is undone after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    out, err = io.StringIO(), io.StringIO()
    stdin = sys.stdin
    sys.stdin = io.StringIO("")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(list(args))
    finally:
        sys.stdin = stdin
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(level)
    return subprocess.CompletedProcess(["kiosk", *args], code, out.getvalue(), err.getvalue())


@pytest.fixture
def example_config(tmp_path: Path) -> Path:
    config = tmp_path / "etc" / "kiosk.toml"
    config.parent.mkdir()
    shutil.copy(EXAMPLE, config)
    config.chmod(0o640)  # as deploy.sh leaves it
    return config


def test_the_documented_command_enrols_with_the_centres_role_and_counter(centre: FakeCentre, example_config: Path,
                                                                         tmp_path: Path):
    state = tmp_path / "state"
    token = centre.issue_token(UNIT_ID, role="counter", counter_id="7")
    # The one test that starts a real `kiosk` process: the command as installed, end to end, as
    # PROTOCOL.md, the README and `centre unit add` give it: no role, no counter.
    result = kiosk_process("provision", "--config", str(example_config), "--state-dir", str(state),
                           "--centre", centre.url, "--unit-id", UNIT_ID, f"--token={token}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"enrolled unit {UNIT_ID}" in result.stdout
    assert "role counter, counter 7 (the centre's record)" in result.stdout

    settings = load_settings(example_config)
    assert settings.unit.id == UNIT_ID and settings.unit.role == "counter" and settings.unit.counter_id == "7"
    assert settings.sync.centre_url == centre.url
    assert settings.state_dir == state
    # The example's placeholder API token is replaced; everything else the technician set is kept.
    assert settings.api.token != "replace-with-a-long-random-token" and len(settings.api.token) == 48
    example = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert settings.queue.host_url == example["queue"]["host_url"]
    assert settings.keys.staff_pins == example["keys"]["staff_pins"]
    assert stat.S_IMODE(example_config.stat().st_mode) == 0o640  # an existing file keeps its mode
    assert [p.name for p in example_config.parent.iterdir()] == ["kiosk.toml"]  # no temporary left
    assert (state / CENTRE_FILE_NAME).is_file()


def test_flags_that_confirm_the_centres_record_enrol(centre: FakeCentre, example_config: Path, tmp_path: Path):
    result = kiosk("provision", "--config", str(example_config), "--state-dir", str(tmp_path / "state"),
                   "--centre", centre.url, "--unit-id", UNIT_ID, "--role", "counter", "--counter", "7",
                   f"--token={centre.issue_token(UNIT_ID, role='counter', counter_id='7')}")
    assert result.returncode == 0, result.stdout + result.stderr
    settings = load_settings(example_config)
    assert (settings.unit.role, settings.unit.counter_id) == ("counter", "7")


@pytest.mark.parametrize("flags", [["--role", "dispenser"], ["--counter", "4"], ["--role", "both", "--counter", "7"]])
def test_flags_that_disagree_with_the_centre_are_refused_and_the_token_stays_good(
        centre: FakeCentre, example_config: Path, tmp_path: Path, flags: list[str]):
    state = tmp_path / "state"
    before = example_config.read_bytes()
    token = centre.issue_token(UNIT_ID, role="counter", counter_id="7")
    result = kiosk("provision", "--config", str(example_config), "--state-dir", str(state),
                   "--centre", centre.url, "--unit-id", UNIT_ID, *flags, f"--token={token}")
    assert result.returncode == EXIT_FAILED, result.stdout + result.stderr
    assert "the centre has unit hall1-c3, role counter, counter 7" in result.stderr
    assert "Nothing was enrolled and the token is still good" in result.stderr
    assert example_config.read_bytes() == before and not (state / CENTRE_FILE_NAME).exists()
    assert token in centre.enrolment_tokens and UNIT_ID not in centre.units
    # The same token, without the wrong flag, enrols.
    again = kiosk("provision", "--config", str(example_config), "--state-dir", str(state),
                  "--centre", centre.url, "--unit-id", UNIT_ID, f"--token={token}")
    assert again.returncode == 0, again.stdout + again.stderr
    assert load_settings(example_config).unit.counter_id == "7"


def test_a_missing_config_folder_says_to_run_deploy_first(centre: FakeCentre, tmp_path: Path, monkeypatch):
    token = centre.issue_token(UNIT_ID)
    # No --config: the default, /etc/kiosk/kiosk.toml, on a machine deploy.sh never ran on.
    monkeypatch.setattr(cli, "DEFAULT_CONFIG", tmp_path / "etc" / "kiosk" / "kiosk.toml")
    result = kiosk("provision", "--state-dir", str(tmp_path / "state"), "--centre", centre.url,
                   "--unit-id", UNIT_ID, f"--token={token}")
    assert result.returncode == EXIT_FAILED
    assert f"{tmp_path / 'etc' / 'kiosk'} does not exist" in result.stderr
    assert "run deploy.sh first" in result.stderr and "--config-out" in result.stderr
    assert "sudo" not in result.stderr
    assert token in centre.enrolment_tokens and not centre.requests  # asked nothing, sent nothing


def test_reprovisioning_keeps_the_event_store_and_its_unsent_events(centre: FakeCentre, example_config: Path,
                                                                     tmp_path: Path):
    state = tmp_path / "state"
    state.mkdir()

    async def record() -> tuple[int, int]:
        store = await EventStore.open(events_db(state))
        await append_events(store, 25)
        head = (store.head.seq, store.backlog)
        await store.close()
        return head

    before = run_async(record())
    db_bytes = events_db(state).read_bytes()
    for attempt in range(2):  # first provisioning, then again with a fresh token
        result = kiosk("provision", "--config", str(example_config), "--state-dir", str(state),
                       "--centre", centre.url, "--unit-id", UNIT_ID,
                       f"--token={centre.issue_token(UNIT_ID, role='both', counter_id='2')}")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "kept as it was" in result.stdout

    async def reopen() -> tuple[int, int]:
        store = await EventStore.open(events_db(state))
        try:
            return store.head.seq, store.backlog
        finally:
            await store.close()

    assert events_db(state).read_bytes()[:100] == db_bytes[:100]
    assert run_async(reopen()) == before == (25, 25)
    settings = load_settings(example_config)
    # A `both` unit keeps the queue itself: the example's queue host is dropped, or it would not validate.
    assert settings.unit.role == "both" and settings.queue.host_url is None


def test_no_terminal_and_missing_answers_is_refused_clearly(centre: FakeCentre, example_config: Path, tmp_path: Path):
    before = example_config.read_bytes()
    result = kiosk("provision", "--config", str(example_config), "--state-dir", str(tmp_path / "s"),
                   "--centre", centre.url)
    assert result.returncode == 2
    assert "no terminal to ask on" in result.stderr
    for flag in ("--unit-id", "--token"):
        assert flag in result.stderr
    assert "--role" not in result.stderr and "--counter" not in result.stderr  # the centre says them
    assert example_config.read_bytes() == before
    assert not centre.requests or all(r.path == "/healthz" for r in centre.requests)


@pytest.mark.parametrize("flag, value, message", [
    ("--unit-id", "hall 1", "letters, digits"),
    ("--counter", "窗口七号太长了窗口七号太长了窗口七号", "1-16 letters"),
    ("--token", "short", "one-time token"),
    ("--centre", "http://192.0.2.10:8800", "plain http is allowed only to this machine"),
])
def test_a_bad_flag_is_named_and_nothing_is_enrolled(centre: FakeCentre, example_config: Path, tmp_path: Path,
                                                      flag: str, value: str, message: str):
    token = centre.issue_token(UNIT_ID)
    given = {"--centre": centre.url, "--unit-id": UNIT_ID, "--counter": "3", "--token": token, flag: value}
    # FLAG=VALUE: a token may start with '-', which argparse would take for an option.
    args = [f"{name}={given_value}" for name, given_value in given.items()]
    result = kiosk("provision", "--config", str(example_config), "--state-dir", str(tmp_path / "s"),
                   "--role", "counter", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert flag in result.stderr and message in result.stderr
    assert token in centre.enrolment_tokens  # still usable: the centre never saw it


def test_an_unreachable_centre_is_refused_before_enrolling(example_config: Path, tmp_path: Path):
    dead = FakeCentre()
    url = dead.url
    dead.close()
    result = kiosk("provision", "--config", str(example_config), "--state-dir", str(tmp_path / "s"),
                   "--centre", url, "--unit-id", UNIT_ID, "--role", "dispenser", "--token", "x" * 20)
    assert result.returncode == 2
    assert "does not answer" in result.stderr


def test_interactive_answers_are_checked_and_asked_again(centre: FakeCentre, example_config: Path, tmp_path: Path):
    token = centre.issue_token(UNIT_ID, role="counter", counter_id="4")
    typed = Terminal("\n".join([
        "ftp://centre", centre.url,          # a bad URL, then the right one
        "hall 1", UNIT_ID,                   # a bad unit id, then the right one
        token,                                # no role or counter asked: the centre says them
    ]) + "\n")
    out, err = io.StringIO(), io.StringIO()
    status = provision_interactive_command(Answers(), config_in=example_config, config_out=example_config,
                                           state_dir=tmp_path / "state", stdin=typed, out=out, err=err)
    assert status == 0, out.getvalue() + err.getvalue()
    shown = out.getvalue()
    assert "Centre URL" in shown and "not a centre URL" in shown
    assert "Unit id" in shown and "letters, digits" in shown
    assert "Role" not in shown and "Counter" not in shown
    settings = load_settings(example_config)
    assert (settings.unit.id, settings.unit.role, settings.unit.counter_id) == (UNIT_ID, "counter", "4")


def test_interactive_gives_up_after_three_bad_answers(centre: FakeCentre, example_config: Path, tmp_path: Path):
    typed = Terminal(f"{centre.url}\nbad id\nworse id\nstill bad\n")
    err = io.StringIO()
    status = provision_interactive_command(Answers(), config_in=example_config, config_out=example_config,
                                           state_dir=tmp_path / "state", stdin=typed, out=io.StringIO(), err=err)
    assert status == 2 and "no usable answer after 3 tries" in err.getvalue()


def test_a_refused_token_leaves_the_config_as_it_was(centre: FakeCentre, example_config: Path, tmp_path: Path):
    before = example_config.read_bytes()
    result = kiosk("provision", "--config", str(example_config), "--state-dir", str(tmp_path / "s"),
                   "--centre", centre.url, "--unit-id", UNIT_ID, "--role", "counter", "--counter", "1",
                   "--token", "never-issued-token")
    assert result.returncode == 1
    assert "refused the enrolment token" in result.stderr
    assert example_config.read_bytes() == before


def test_config_out_writes_a_new_file_and_leaves_the_source(centre: FakeCentre, example_config: Path, tmp_path: Path):
    out_path = tmp_path / "out" / "kiosk.toml"
    out_path.parent.mkdir()
    before = example_config.read_bytes()
    result = kiosk("provision", "--config", str(example_config), "--config-out", str(out_path),
                   "--state-dir", str(tmp_path / "s"), "--centre", centre.url, "--unit-id", UNIT_ID,
                   "--role", "dispenser", f"--token={centre.issue_token(UNIT_ID, 'dispenser', None)}")
    assert result.returncode == 0, result.stderr
    assert example_config.read_bytes() == before
    assert load_settings(out_path).unit.role == "dispenser"
    assert stat.S_IMODE(out_path.stat().st_mode) == 0o640  # a new file: the service's group may read it


@pytest.mark.parametrize("example", sorted((REPO / "config").glob("*.toml")), ids=lambda p: p.name)
def test_every_example_config_survives_being_rewritten(example: Path):
    raw = tomllib.loads(example.read_text(encoding="utf-8"))
    assert tomllib.loads(dump_toml(raw, "header")) == raw


def test_provision_command_prints_what_it_did(centre: FakeCentre, state_dir: Path):
    settings = make_settings(state_dir, unit_id="from-config")
    out, err = io.StringIO(), io.StringIO()
    code = provision_command(settings, centre.url, UNIT_ID, centre.issue_token(UNIT_ID), None, out=out, err=err)
    assert code == EXIT_OK, err.getvalue()
    text = out.getvalue()
    assert f"enrolled unit {UNIT_ID} at {centre.url}" in text and "(mode 0600)" in text
    # The config's unit differs from the centre's record: say which one `kiosk run` uses.
    assert "the config says unit from-config" in text and "runs as the centre's unit hall1-c3, role both" in text
    assert "event store" not in text and not events_db(state_dir).exists()  # none yet: nothing said kept


def test_provision_command_failures_have_exit_codes(centre: FakeCentre, state_dir: Path):
    err = io.StringIO()
    assert provision_command(make_settings(state_dir), None, None, "tok", None, err=err) == EXIT_USAGE
    assert "--centre" in err.getvalue()
    err = io.StringIO()
    assert provision_command(make_settings(state_dir), centre.url, None, "wrong", None, err=err) == EXIT_FAILED
    assert "401" in err.getvalue()

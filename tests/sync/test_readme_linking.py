"""The README's "Linking a unit to the centre" works as written (issue 14.2).

The commands are read from README.md itself, so the README and this test cannot drift apart, and
run with bash, one line at a time, from an empty folder with the venv's commands on the PATH, as
a reader on a laptop would. Three things are substituted, and only these: the two ports (free
ones, so parallel test runs do not collide) and TOKEN (the token `centre unit add` printed, as the
README says to). `centre serve` and `kiosk run` are started in the background (the README gives
them their own terminals) and stopped with Ctrl-C (SIGINT) at the end.
"""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.centre.testkit import free_port

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Linking a unit to the centre"
CENTRE_ADDRESS, UNIT_ADDRESS = "127.0.0.1:8800", "127.0.0.1:8700"
SERVERS = (["centre", "serve"], ["kiosk", "run"])
READY_TIMEOUT_S = 30.0
COMMAND_TIMEOUT_S = 120.0


def section_commands() -> list[str]:
    """Every line of the section's ```sh blocks, in order."""
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start:end if end >= 0 else len(text)]
    blocks = re.findall(r"^```sh\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def wait_ready(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"{server.args} exited {server.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{server.args} did not answer {url}:\n{log.read_text()}")


def fleet_rows(listing: str) -> dict[str, dict[str, str]]:
    """`centre unit list`'s table (columns padded to the header's) as {unit_id: {column: cell}}."""
    header, *rows = listing.splitlines()
    starts = [match.start() for match in re.finditer(r"\S+", header)]
    names = header.split()
    table = {}
    for row in rows:
        cells = {name: row[start:end].strip() for name, start, end in zip(names, starts, [*starts[1:], None])}
        table[cells["unit_id"]] = cells
    return table


def test_the_readme_linking_section_works_as_written(tmp_path: Path):
    commands = section_commands()
    written = "\n".join(commands)
    for needed in (CENTRE_ADDRESS, UNIT_ADDRESS, "TOKEN", "centre serve", "centre unit add",
                   "kiosk provision", "kiosk run", "kiosk sync --once"):
        assert needed in written, f"the README's linking section no longer has {needed!r}"
    centre_address, unit_address = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    bin_dir = Path(sys.executable).parent  # the venv's: where `centre` and `kiosk` are installed
    assert (bin_dir / "centre").exists() and (bin_dir / "kiosk").exists()
    env = {key: value for key, value in os.environ.items() if key not in ("CENTRE_DB", "CENTRE_ADMIN_TOKEN")}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", SDL_VIDEODRIVER="dummy",
               SDL_AUDIODRIVER="dummy")
    folder = tmp_path / "laptop"
    folder.mkdir()

    token: str | None = None
    servers: list[tuple[subprocess.Popen, Path]] = []
    outputs: dict[str, str] = {}
    try:
        for line in commands:
            command = line.replace(CENTRE_ADDRESS, centre_address).replace(UNIT_ADDRESS, unit_address)
            if re.search(r"\bTOKEN\b", command):
                assert token, "TOKEN is used before `centre unit add` printed one"
                command = re.sub(r"\bTOKEN\b", token, command)
            words = shlex.split(command, comments=True)
            if words[:2] in SERVERS:
                log = tmp_path / f"{words[0]}-{words[1]}.log"
                with log.open("w") as sink:
                    server = subprocess.Popen(["bash", "-c", command], cwd=folder, env=env, stdout=sink,
                                              stderr=subprocess.STDOUT, start_new_session=True)
                servers.append((server, log))
                address = centre_address if words[0] == "centre" else unit_address
                wait_ready(f"http://{address}/healthz", server, log)
                continue
            done = subprocess.run(["bash", "-c", command], cwd=folder, env=env, capture_output=True,
                                  text=True, timeout=COMMAND_TIMEOUT_S, stdin=subprocess.DEVNULL)
            assert done.returncode == 0, f"{line}\n{done.stdout}{done.stderr}"
            outputs[" ".join(words[:2])] = done.stdout + done.stderr
            if words[:3] == ["centre", "unit", "add"]:
                token = re.search(r"^token: (\S+)$", done.stdout, re.MULTILINE).group(1)

        assert (folder / "centre.db").is_file()  # where the README says the centre keeps its data
        assert "role counter, counter 3 (the centre's record)" in outputs["kiosk provision"]
        assert re.search(r"sent \d+ events", outputs["kiosk sync"]), outputs["kiosk sync"]
        assert re.search(r"^unit:\s+hall1-c3\s+role counter\s+counter 3$", outputs["kiosk status"], re.MULTILINE), \
            outputs["kiosk status"]
        unit_state = httpx.get(f"http://{unit_address}/v1/state", headers={"Authorization": "Bearer sim"},
                               timeout=10).json()
        assert (unit_state["unit_id"], unit_state["role"], unit_state["counter_id"]) == ("hall1-c3", "counter", "3")
        assert unit_state["backlog"] == 0 and unit_state["last_seq"] >= 1
        fleet = fleet_rows(outputs["centre unit"])
        assert {key: fleet["hall1-c3"][key] for key in ("role", "counter_id", "state", "acked_through")} == {
            "role": "counter", "counter_id": "3", "state": "enrolled", "acked_through": str(unit_state["last_seq"])}
    finally:
        for server, log in reversed(servers):  # Ctrl-C, as the README says
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGINT)
        for server, log in servers:
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)
    for server, log in servers:
        assert server.returncode == 0, f"{server.args} after Ctrl-C: {server.returncode}\n{log.read_text()}"

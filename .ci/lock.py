"""requirements.lock: every package `pip install -e '.[dev]'` brings in, at the version the venv has.

    .venv/bin/python .ci/lock.py           # rewrite the lock from the venv (after changing
                                           # dependencies in pyproject.toml and reinstalling)
    .venv/bin/python .ci/lock.py --check   # exit 1 when the lock differs from the venv (CI)

The set is walked from the project's own requirements (with the dev extra) through each installed
package's requirements, markers evaluated for this Python, so stray packages in the venv are left out.
CI installs with the lock as constraints, tests exactly those versions, and audits the lock.
"""
from __future__ import annotations

import argparse
import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
PROJECT = "counter-kiosk"
HEADER = """\
# Exact versions of everything `pip install -e '.[dev]'` installs (the project itself left out).
# Made by `.venv/bin/python .ci/lock.py` from the venv; CI installs with `-c requirements.lock`,
# checks it with `.ci/lock.py --check` and audits it with pip-audit (.ci/audit.py).
"""


def locked_versions(root: str = f"{PROJECT}[dev]") -> dict[str, str]:
    """{canonical name: version} of every package `root` needs, as installed here."""
    found: dict[str, str] = {}
    pending = [(Requirement(root), "")]
    seen: set[tuple[str, str]] = set()
    while pending:
        requirement, extra = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        for wanted in [""] + sorted(requirement.extras):
            if (name, wanted) in seen:
                continue
            seen.add((name, wanted))
            try:
                installed = distribution(name)
            except PackageNotFoundError:
                raise SystemExit(f"{name} is required but not installed: pip install -e '.[dev]' first") from None
            found[name] = installed.version
            pending += [(Requirement(text), wanted) for text in installed.requires or []]
    found.pop(canonicalize_name(PROJECT), None)
    return found


def lock_text(versions: dict[str, str]) -> str:
    return HEADER + "".join(f"{name}=={version}\n" for name, version in sorted(versions.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    wanted = lock_text(locked_versions())
    if not args.check:
        LOCK.write_text(wanted, encoding="utf-8")
        print(f"wrote {LOCK.name}")
        return 0
    current = LOCK.read_text(encoding="utf-8") if LOCK.exists() else ""
    if current == wanted:
        print(f"{LOCK.name} matches the venv")
        return 0
    old, new = set(current.splitlines()), set(wanted.splitlines())
    print(f"{LOCK.name} differs from the venv: run .venv/bin/python .ci/lock.py and commit it\n"
          f"  only in the lock: {sorted(old - new)}\n  only in the venv: {sorted(new - old)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

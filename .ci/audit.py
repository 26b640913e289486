"""pip-audit on requirements.lock, with a verdict that cannot be mistaken for a clean audit.

    .venv/bin/python .ci/audit.py

Tries pip-audit's vulnerability services in turn until one answers for every locked package, then,
where none can (a package index that serves no per-release pages, no route to the others), reads the
same advisories from each project's own page, which covers a package pinned at its latest release.
Exit status: 0 every package audited, none known vulnerable; 1 a known vulnerability (listed);
3 NOT AUDITED: no service answered for every package (each service's error is printed). A machine
that reaches none of the services (CI behind a registry mirror, say) gets 3, never a silent 0;
.ci/run decides what 3 means for the build (PIP_AUDIT_REQUIRED=1 makes it fail).
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
PIP_AUDIT = Path(sys.executable).parent / "pip-audit"
SERVICES = ("pypi", "osv", "esms")
LATEST_RELEASES = "latest-release advisories"  # the fallback below, tried after pip-audit's services
SOCKET_TIMEOUT_S = 20
# A whole run per service: about 90 packages, one or two requests each.
RUN_TIMEOUT_S = 120
EXIT_VULNERABLE, EXIT_NOT_AUDITED = 1, 3


def run_pip_audit(service: str) -> tuple[dict | None, str]:
    """pip-audit's JSON report (None if it produced none) and the last lines it printed."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        command = [str(PIP_AUDIT), "--requirement", str(LOCK), "--no-deps", "--disable-pip",
                   "--vulnerability-service", service, "--timeout", str(SOCKET_TIMEOUT_S),
                   "--progress-spinner", "off", "--format", "json", "--output", str(report)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return None, f"no answer within {RUN_TIMEOUT_S} s"
        said = ((done.stdout + done.stderr).strip().splitlines() or [""])[-1]  # the error, if any
        if not report.exists() or not report.read_text(encoding="utf-8").strip():
            return None, said or f"pip-audit exited {done.returncode} without a report"
        return json.loads(report.read_text(encoding="utf-8")), said


def locked_pins() -> list[tuple[str, str]]:
    return [tuple(line.strip().split("==", 1)) for line in LOCK.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


def latest_release_advisories() -> tuple[dict | None, str]:
    """The same advisories pip-audit's "pypi" service reads, from each project's own JSON page
    (which lists those of its latest release) instead of the per-release page that some package
    indexes and mirrors do not serve. A package pinned below its latest release cannot be audited
    this way: it is reported skipped, never passed. The report has pip-audit's JSON shape."""
    import requests  # the venv has it (a dependency of the unit's uploader)
    from pip._internal.models.index import PyPI  # pip's own name for the index's JSON API

    packages = []
    with requests.Session() as session:
        for name, version in locked_pins():
            try:
                answer = session.get(f"{PyPI.pypi_url}/{name}/json", timeout=SOCKET_TIMEOUT_S)
                answer.raise_for_status()
                project = answer.json()
            except (requests.RequestException, ValueError) as error:
                return None, f"{name}: {error}"
            latest = project["info"]["version"]
            if latest != version:
                packages.append({"name": name, "version": version, "skip_reason":
                                 f"{name} {version} is not the latest release ({latest})"})
                continue
            vulns = [{"id": v.get("id", "?"), "fix_versions": v.get("fixed_in") or []}
                     for v in project.get("vulnerabilities") or [] if not v.get("withdrawn")]
            packages.append({"name": name, "version": version, "vulns": vulns})
    return {"dependencies": packages}, ""


def main() -> int:
    if not PIP_AUDIT.exists():
        print(f"pip-audit: NOT AUDITED: {PIP_AUDIT} is missing (pip install -e '.[dev]')")
        return EXIT_NOT_AUDITED
    problems = []
    for service in (*SERVICES, LATEST_RELEASES):
        report, said = latest_release_advisories() if service == LATEST_RELEASES else run_pip_audit(service)
        if report is None:
            problems.append(f"{service}: {said}")
            continue
        packages = report["dependencies"]
        skipped = [p for p in packages if p.get("skip_reason")]
        vulnerable = [p for p in packages if p.get("vulns")]
        if vulnerable:
            print(f"pip-audit ({service}): KNOWN VULNERABILITIES in requirements.lock:")
            for package in vulnerable:
                for vuln in package["vulns"]:
                    fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
                    print(f"  {package['name']} {package['version']}: {vuln['id']} (fixed in {fixed})")
            return EXIT_VULNERABLE
        if not skipped:
            print(f"pip-audit ({service}): {len(packages)} locked packages audited, no known vulnerabilities")
            return 0
        problems.append(f"{service}: {len(skipped)} of {len(packages)} packages not audited, e.g. "
                        f"{skipped[0]['skip_reason']}")
    print("pip-audit: NOT AUDITED: no vulnerability service answered for every locked package:")
    print("\n".join(f"  {problem}" for problem in problems))
    return EXIT_NOT_AUDITED


if __name__ == "__main__":
    sys.exit(main())

"""Where fault tests leave their size and figures for `python -m tests.fault.report`.

A test calls `record(...)`; when FAULT_RESULTS names a file (the report sets it), one JSON line is
appended to it, otherwise nothing is written. The report pairs these lines with pytest's own verdicts.
"""
from __future__ import annotations

import json
import os
from typing import Any

RESULTS_ENV = "FAULT_RESULTS"


def record(test: str, size: str, figures: dict[str, Any]) -> None:
    """`test` is the pytest node id (request.node.nodeid), `size` what was run."""
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps({"test": test, "size": size, "figures": figures}, ensure_ascii=False) + "\n")

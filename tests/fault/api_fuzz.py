"""Schemathesis against a live API on 127.0.0.1 (test helper for test_api_schemas.py).

Every operation of an OpenAPI document gets a bounded number of generated requests that fit the
document (positive) and that do not (negative). Each answer must:

- never be a 5xx;
- for an error whose status the operation does not document on its own, be the documented
  default: PROTOCOL.md's {"error": {"code": str, "message": str, …}} as JSON (or, where the default
  also lists text/html, an HTML page: the dashboard's refusals);
- pass schemathesis' own conformance checks against the document (status code, content type,
  response schema), so the document stays true.

Problems are collected over the whole run rather than stopping at the first, so one run lists all.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode, Response
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

REQUEST_TIMEOUT_S = 15.0
CONFORMANCE_CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
# Problems kept per operation: enough to see a pattern without flooding the failure message.
PROBLEMS_KEPT_PER_OPERATION = 3


@dataclass
class Fixed:
    """What a case must carry to get past authentication: these override generated values."""

    path_parameters: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    form_fields: dict[str, str] = field(default_factory=dict)  # set in generated form bodies


@dataclass
class FuzzTally:
    operations: int = 0
    requests: int = 0
    nothing_to_negate: int = 0  # operations without a parameter or body to send unfitting
    statuses: Counter = field(default_factory=Counter)
    problems: dict[str, list[str]] = field(default_factory=dict)

    def add_problem(self, label: str, text: str) -> None:
        kept = self.problems.setdefault(label, [])
        if len(kept) < PROBLEMS_KEPT_PER_OPERATION:
            kept.append(text)

    def figures(self) -> dict[str, Any]:
        ranges = Counter(f"{status // 100}xx" for status in self.statuses.elements())
        return {"operations": self.operations, "without unfitting inputs": self.nothing_to_negate,
                "requests": self.requests,
                **{f"answers {name}": count for name, count in sorted(ranges.items())},
                "problems": sum(len(found) for found in self.problems.values())}

    def report(self) -> str:
        return "\n".join(f"{label}:\n  " + "\n  ".join(found) for label, found in self.problems.items())


def error_shape_problem(body: Any) -> str | None:
    """Why `body` is not PROTOCOL.md's error object, or None when it is."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return f"not an error object: {str(body)[:200]}"
    missing = [key for key in ("code", "message") if not isinstance(error.get(key), str) or not error.get(key)]
    return f"error object without a text {', '.join(missing)}: {error}" if missing else None


def media_type_of(response: Response) -> str:
    values = next((values for name, values in response.headers.items() if name.lower() == "content-type"), [""])
    return values[0].split(";")[0].strip().lower()


def answer_problem(case: Case, response: Response) -> str | None:
    text = response.content[:300].decode("utf-8", "replace")
    if response.status_code >= 500:
        return f"{response.status_code}: {text}"
    if response.status_code < 400 or str(response.status_code) in case.operation.responses.status_codes:
        return None
    media_type = media_type_of(response)
    if media_type == "text/html" and _default_allows_html(case):
        return None
    if media_type != "application/json":
        return f"{response.status_code} answered as {media_type or 'no content type'}: {text}"
    try:
        body = json.loads(response.content)
    except ValueError:
        return f"{response.status_code} answered with a body that is not JSON: {text}"
    problem = error_shape_problem(body)
    return f"{response.status_code} {problem}" if problem else None


def can_be_unfitting(operation) -> bool:
    """Whether any input of the operation has a type or constraint a request can break. Where every
    input is free text (a path id, form fields), hypothesis would search for seconds before giving up."""
    raw = operation.definition.raw
    if "application/json" in raw.get("requestBody", {}).get("content", {}):
        return True
    return any(set(parameter.get("schema", {})) - {"type", "title", "description"}
               or parameter.get("schema", {}).get("type") != "string" for parameter in raw.get("parameters", []))


def _default_allows_html(case: Case) -> bool:
    default = case.operation.definition.raw.get("responses", {}).get("default", {})
    return "text/html" in default.get("content", {})


def fuzz_api(document: dict[str, Any], base_url: str, *, examples: int,
             fixed_for: Callable[[str, str], Fixed], time_limit_s: float) -> FuzzTally:
    """Every operation in `document`, `examples` positive and `examples` negative cases each, sent
    to `base_url`. `fixed_for(method, path)` gives what each case of an operation must carry."""
    schema = schemathesis.openapi.from_dict(document)
    tally = FuzzTally()
    started = time.monotonic()
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            tally.operations += 1
            fixed = fixed_for(operation.method.upper(), operation.path)
            modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if can_be_unfitting(operation) else [])
            tally.nothing_to_negate += len(modes) == 1
            for mode in modes:
                if time.monotonic() - started > time_limit_s:
                    raise AssertionError(f"fuzzing took over {time_limit_s} s; reached {operation.label}")
                _fuzz_operation(operation, mode, fixed, base_url, session, examples, tally)
    return tally


def _fuzz_operation(operation, mode: GenerationMode, fixed: Fixed, base_url: str, session: requests.Session,
                    examples: int, tally: FuzzTally) -> None:
    strategy = operation.as_strategy(mode, path_parameters=fixed.path_parameters or None,
                                     headers=fixed.headers or None, cookies=fixed.cookies or None)

    # database=None: no .hypothesis folder in the work tree. Only generation: no shrinking, since
    # problems are collected, not raised. Health checks would stop slow generation of large bodies.
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def send(case: Case) -> None:
        if fixed.form_fields and isinstance(case.body, dict) and "form" in (case.media_type or ""):
            case.body.update(fixed.form_fields)
        response = case.call(base_url=base_url, session=session, timeout=REQUEST_TIMEOUT_S,
                             allow_redirects=False)
        tally.requests += 1
        tally.statuses[response.status_code] += 1
        problem = answer_problem(case, response)
        if problem is None:
            try:
                case.validate_response(response, checks=CONFORMANCE_CHECKS)
            except FailureGroup as failures:
                problem = "; ".join(f"{failure.title}: {failure.message}" for failure in failures.exceptions)
            except AssertionError as failure:  # a single check's Failure
                problem = str(failure)
        if problem is not None:
            tally.add_problem(f"{operation.label} ({mode.value})",
                              f"{problem}\n    request: {case.as_curl_command(headers=fixed.headers)}")

    try:
        send()
    except Unsatisfiable:
        # Nothing in the operation can be made unfitting (no parameters, no body): fine.
        if mode is GenerationMode.POSITIVE:
            raise
        tally.nothing_to_negate += 1

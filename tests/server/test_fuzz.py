"""Schemathesis fuzzes the whole OpenAPI schema with every check it has: no 5xx, the
schema's status codes, content types, headers and response bodies are what is sent, a
request the schema allows is accepted and one it forbids is refused (so the schema says
exactly what the library accepts), a 405 names the allowed methods, and a route refuses
a missing key. Bounded and seeded: a fixed number of derandomized examples per operation
and mode.

Six rules of the library cannot be written in JSON Schema, and cases that break them are
left out of the positive cases (``_schema_cannot_say``): the ``now`` of a write is at most
24 hours ahead of the server's clock (``schemas.WRITE_AHEAD``; an experience's
``occurred_at`` is its write's now), and no string anywhere in
metadata holds a NUL (docs/limits.md), both tested by name in test_bad_input.py; a search's
``where`` holds at most 32 conditions in all, operators counted one by one, and its
``occurred_after`` is earlier than its ``occurred_before`` (docs/filters.md), both tested
by name in test_filters.py; a listing's ``cursor`` is one the server handed out (opaque:
docs/scopes.md), tested by name in test_scopes.py; a memory's ``expires_at`` is after now
(docs/expiry.md), tested by name in test_expiry_routes.py.

The number of cases is printed (``pytest -s``) and kept in ``CASES_RUN`` and ``STATUS``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.config._checks import NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES as REJECTED
from schemathesis.core.failures import FailureGroup

from engramdb import Memory
from engramdb.filters import MAX_CONDITIONS
from engramdb.server.schemas import WRITE_AHEAD

from .conftest import AppKeys, bearer

EXAMPLES = 20  # per operation and generation mode
CASES_RUN: dict[str, int] = {}
STATUS: dict[int, int] = {}  # 2 -> how many 2xx, 4 -> 4xx


def test_fuzzing_the_openapi_schema_with_every_check_finds_nothing(
    make_app: Callable[..., tuple[TestClient, Memory, AppKeys]],
) -> None:
    load_all_checks()
    checks = CHECKS.get_all()
    client, _memory, keys = make_app(max_body_bytes=256 * 1024)
    # 413 (a value over a limit, limit_exceeded) refuses a request as 422 does
    config = SchemathesisConfig.from_dict(
        {"checks": {"negative_data_rejection": {"expected-statuses": [*REJECTED, "413"]}}}
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app, config=config)
    headers = bearer(keys.admin)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, headers, checks, failures)
    total = sum(CASES_RUN.values())
    print(
        f"\nschemathesis: {total} cases over {len(operations)} operations, "
        f"{len(checks)} checks: {STATUS.get(2, 0)} 2xx, {STATUS.get(4, 0)} 4xx, "
        f"{STATUS.get(5, 0)} 5xx"
    )
    assert total >= len(operations) * 2
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures[:40])


def _fuzz(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    headers: dict[str, str],
    checks: list[Any],
    failures: list[str],
) -> None:
    label = f"{operation.label} {mode.value}"
    CASES_RUN[label] = 0
    strategy = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.POSITIVE:
        strategy = strategy.filter(lambda case: not _schema_cannot_say(case))

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def fuzz(case: schemathesis.Case) -> None:
        CASES_RUN[label] += 1
        try:
            response = case.call_and_validate(headers=headers, checks=checks)
        except FailureGroup as found:
            # every case of every operation runs; the test lists what failed at the end
            failures.append(f"{label}: {found}")
            return
        STATUS[response.status_code // 100] = STATUS.get(response.status_code // 100, 0) + 1

    try:
        fuzz()
    except Unsatisfiable:
        # An operation without parameters or body (/healthz) has no negative cases.
        assert mode is GenerationMode.NEGATIVE
        assert CASES_RUN[label] == 0


def _schema_cannot_say(case: schemathesis.Case) -> bool:
    body = case.body if isinstance(case.body, dict) else {}
    now = body.get("now")
    writes = case.method.upper() in ("PATCH", "POST") and not case.path.endswith(
        ("/context", "/engrams", "/batch")
    )
    reinforcing = body.get("reinforce", True) is not False
    if writes and isinstance(now, str) and reinforcing and _ahead(now):
        return True
    # an experience's event time is the now of its write (docs/learning.md)
    occurred = body.get("occurred_at")
    if case.path.endswith("/experiences") and isinstance(occurred, str) and _ahead(occurred):
        return True
    if _filter_cannot_say(body) or (case.path.endswith("/list") and "cursor" in body):
        return True
    items = body.get("items") if isinstance(body.get("items"), list) else [body]
    if any(isinstance(i, dict) and _not_ahead(i.get("expires_at")) for i in items):
        return True
    return any(isinstance(i, dict) and _holds_nul(i.get("metadata")) for i in items)


def _not_ahead(stamp: object) -> bool:
    """Whether an ``expires_at`` is not after the clock, with an hour's margin: a loaded
    machine may take a while between a case's making and its call."""
    if not isinstance(stamp, str):
        return False
    try:
        return datetime.fromisoformat(stamp) <= datetime.now(timezone.utc) + timedelta(hours=1)
    except (ValueError, OverflowError, TypeError):
        return False


def _ahead(stamp: str) -> bool:
    """Whether the time is more than ``WRITE_AHEAD`` past the clock."""
    try:
        return datetime.fromisoformat(stamp) > datetime.now(timezone.utc) + WRITE_AHEAD
    except (ValueError, OverflowError):
        return False


def _filter_cannot_say(body: dict[str, Any]) -> bool:
    where, after, before = (
        body.get("where"),
        body.get("occurred_after"),
        body.get("occurred_before"),
    )
    if isinstance(where, dict):
        conditions = sum(len(c) if isinstance(c, dict) else 1 for c in where.values())
        if conditions > MAX_CONDITIONS:
            return True
    if isinstance(after, str) and isinstance(before, str):
        try:
            return datetime.fromisoformat(after) >= datetime.fromisoformat(before)
        except (ValueError, OverflowError, TypeError):
            return False
    return False


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False

"""Schemathesis fuzzes the OpenAPI schema: no input the schema allows, or nearly allows,
gets a 5xx. Bounded: a fixed number of derandomized examples per operation and mode.

The number of cases is printed (``pytest -s``) and kept in ``CASES_RUN`` and ``STATUS``.
"""

from __future__ import annotations

from collections.abc import Callable

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from engramdb import Memory

from .conftest import AppKeys, bearer

EXAMPLES = 20  # per operation and generation mode
CASES_RUN: dict[str, int] = {}
STATUS: dict[int, int] = {}  # 2 -> how many 2xx, 4 -> 4xx


def test_fuzzing_the_openapi_schema_finds_no_server_error(
    make_app: Callable[..., tuple[TestClient, Memory, AppKeys]],
) -> None:
    client, _memory, keys = make_app(max_body_bytes=256 * 1024)
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    headers = bearer(keys.admin)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, headers)
    total = sum(CASES_RUN.values())
    print(
        f"\nschemathesis: {total} cases over {len(operations)} operations: "
        f"{STATUS.get(2, 0)} 2xx, {STATUS.get(4, 0)} 4xx, {STATUS.get(5, 0)} 5xx"
    )
    assert total >= len(operations) * 2


def _fuzz(
    operation: schemathesis.APIOperation, mode: GenerationMode, headers: dict[str, str]
) -> None:
    label = f"{operation.label} {mode.value}"
    CASES_RUN[label] = 0

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: schemathesis.Case) -> None:
        CASES_RUN[label] += 1
        response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
        STATUS[response.status_code // 100] = STATUS.get(response.status_code // 100, 0) + 1

    try:
        fuzz()
    except Unsatisfiable:
        # An operation without parameters or body (/healthz) has no negative cases.
        assert mode is GenerationMode.NEGATIVE
        assert CASES_RUN[label] == 0

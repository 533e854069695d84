"""The PostgreSQL server the tests of this folder run against (docs/postgres.md).

``ENGRAMDB_TEST_POSTGRES`` is a database URL (``scripts/postgres.sh`` starts a
throwaway cluster and writes one; ``make test`` reads it). Without it, or when
the server does not answer, every test here is skipped with the reason. Under
``ENGRAMDB_REQUIRE_POSTGRES=1`` (``.ci/run``'s postgres stage) a skipped test
fails instead: CI never passes on PostgreSQL tests that did not run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import quote

import pytest

URL = os.environ.get("ENGRAMDB_TEST_POSTGRES", "")
REQUIRED = os.environ.get("ENGRAMDB_REQUIRE_POSTGRES") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if REQUIRED and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under ENGRAMDB_REQUIRE_POSTGRES=1: {reason}"


@pytest.fixture(scope="session")
def graph_only_url(postgres_url: str) -> str:
    """The test database's URL with sorting and sequential reads priced out of every
    connection of a store (libpq's ``options``): at test sizes PostgreSQL's planner
    would read a namespace and sort it rather than use the HNSW graph
    (docs/postgres.md)."""
    settings = " ".join(
        f"-c {name}=off" for name in ("enable_sort", "enable_seqscan", "enable_bitmapscan")
    )
    joiner = "&" if "?" in postgres_url else "?"
    return f"{postgres_url}{joiner}options={quote(settings)}"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The URL of a server that answers, with pgvector installed in its database."""
    if not URL:
        pytest.skip("no PostgreSQL: set ENGRAMDB_TEST_POSTGRES (make postgres starts one)")
    try:
        import psycopg
    except ImportError:
        pytest.skip("no psycopg: pip install 'engramdb[postgres]'")
    try:
        with psycopg.connect(URL, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
            ).fetchone()
    except psycopg.OperationalError as exc:
        pytest.skip(f"ENGRAMDB_TEST_POSTGRES does not answer: {exc}")
    if row is None:
        pytest.skip(
            "the database of ENGRAMDB_TEST_POSTGRES has no pgvector (CREATE EXTENSION vector)"
        )
    return URL

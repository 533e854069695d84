"""Shared fixtures: the real embedding model, loaded once per test session, and the
stores a feature test runs on (SQLite always; PostgreSQL where one is given).

``location`` is where a test's ``Memory`` keeps its memories: a SQLite directory,
then a new schema of the database ``ENGRAMDB_TEST_POSTGRES`` names (docs/postgres.md;
``make postgres`` starts one), dropped after the test. Without that variable, or
when its server does not answer, the PostgreSQL case is skipped with the reason;
under ``ENGRAMDB_REQUIRE_POSTGRES=1`` (``.ci/run``'s postgres stage, which runs
``-m postgres``) such a skip fails instead. A test module with its own cases
(encrypted on SQLite only, say) takes ``place`` and lists its PostgreSQL case
as ``pytest.param("postgres", marks=pytest.mark.postgres)``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import pytest

# The conformance checks are plain asserts in an installed module: ask pytest to
# rewrite them so a failing check shows its values.
pytest.register_assert_rewrite("engramdb.testing")

from engramdb.config import Settings  # noqa: E402
from engramdb.embed import Embedder, make_embedder  # noqa: E402

POSTGRES_URL = os.environ.get("ENGRAMDB_TEST_POSTGRES", "")
REQUIRE_POSTGRES = os.environ.get("ENGRAMDB_REQUIRE_POSTGRES") == "1"

#: The stores every feature test runs on; ``-m postgres`` selects the PostgreSQL case.
STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The packaged all-MiniLM-L6-v2 (int8 ONNX) behind its cache, warmed up."""
    real = make_embedder(Settings())
    real.embed(["warm up"])
    return real


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if (
        REQUIRE_POSTGRES
        and report.skipped
        and not hasattr(report, "wasxfail")
        and item.get_closest_marker("postgres") is not None
    ):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under ENGRAMDB_REQUIRE_POSTGRES=1: {reason}"


@cache
def _postgres_refusal() -> str | None:
    """Why the test database cannot be used (None: it can), asked once a session."""
    if not POSTGRES_URL:
        return "no PostgreSQL: set ENGRAMDB_TEST_POSTGRES (make postgres starts one)"
    try:
        import psycopg
    except ImportError:
        return "no psycopg: pip install 'engramdb[postgres]'"
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
            ).fetchone()
    except psycopg.OperationalError as exc:
        return f"ENGRAMDB_TEST_POSTGRES does not answer: {exc}"
    if row is None:
        return "the database of ENGRAMDB_TEST_POSTGRES has no pgvector (CREATE EXTENSION vector)"
    return None


def _drop_schemas(schemas: list[str]) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def place(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """``place(kind)``: a new store location of ``kind`` ("sqlite" or "postgres");
    each call a new one (a new directory, a new schema), all removed afterwards."""
    schemas: list[str] = []
    made = 0

    def at(kind: str) -> str:
        nonlocal made
        made += 1
        if kind == "sqlite":
            return str(tmp_path / f"store{made}")
        refusal = _postgres_refusal()
        if refusal is not None:
            pytest.skip(refusal)
        schemas.append(f"test_{uuid.uuid4().hex[:12]}")
        joiner = "&" if "?" in POSTGRES_URL else "?"
        return f"{POSTGRES_URL}{joiner}schema={schemas[-1]}"

    yield at
    if schemas:
        _drop_schemas(schemas)


@pytest.fixture(params=STORES)
def location(request: pytest.FixtureRequest, place: Callable[[str], str]) -> str:
    """Where a test's ``Memory`` keeps its memories: on SQLite, then on PostgreSQL."""
    return place(request.param)


@pytest.fixture(scope="module", params=STORES)
def module_location(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``location`` for a ``Memory`` that serves a whole module."""
    if request.param == "sqlite":
        yield str(tmp_path_factory.mktemp("store") / "store")
        return
    refusal = _postgres_refusal()
    if refusal is not None:
        pytest.skip(refusal)
    schema = f"test_{uuid.uuid4().hex[:12]}"
    joiner = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{joiner}schema={schema}"
    _drop_schemas([schema])

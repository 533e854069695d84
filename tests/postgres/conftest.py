"""The PostgreSQL server the tests of this folder run against (docs/postgres.md).

``ENGRAMDB_TEST_POSTGRES`` is a database URL (``scripts/postgres.sh`` starts a
throwaway cluster and writes one; ``make test`` reads it). Without it, or when
the server does not answer, every test here is skipped with the reason. Under
``ENGRAMDB_REQUIRE_POSTGRES=1`` (``.ci/run``'s postgres stage) a skipped test
fails instead: CI never passes on PostgreSQL tests that did not run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest

if TYPE_CHECKING:
    from engramdb.store.postgres import PostgresStore

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


def located(url: str, schema: str) -> str:
    """The location of a store kept in ``schema`` of the database at ``url`` (docs/postgres.md)."""
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


@pytest.fixture
def schemas(postgres_url: str, request: pytest.FixtureRequest) -> Iterator[Callable[[], str]]:
    """``schemas()``: the name of a new schema for a store, after the test's module; every
    schema named is dropped after the test."""
    prefix = request.module.__name__.rpartition(".")[2].removeprefix("test_")
    made: list[str] = []

    def new() -> str:
        made.append(f"{prefix}_{uuid.uuid4().hex[:12]}")
        return made[-1]

    yield new
    import psycopg
    from psycopg import sql

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for name in made:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture
def schema(schemas: Callable[[], str]) -> str:
    """A schema of the test's own, dropped after it."""
    return schemas()


@pytest.fixture
def store(postgres_url: str, schema: str) -> Iterator[PostgresStore]:
    """A plaintext store in the test's own schema, with the conformance checks' vectors."""
    from engramdb.store.postgres import PostgresStore
    from engramdb.testing.conformance import DIMS

    opened = PostgresStore(postgres_url, schema=schema, dims=DIMS)
    yield opened
    opened.close()


#: The relation files of a schema after ``VACUUM FULL`` and ``CHECKPOINT``.
Scan = Callable[[str], list[Path]]
#: ``pg_dump``'s output of a schema, lower-cased.
Dump = Callable[[str], bytes]


@pytest.fixture
def relation_files(postgres_url: str) -> Scan:
    """``relation_files(schema)``: every file of the schema's relations, compacted
    first (what a canary scan reads: docs/security.md, "Erasure that reaches the files")."""
    return lambda schema: compacted(postgres_url, schema)


@pytest.fixture
def dump(postgres_url: str) -> Dump:
    """``dump(schema)``: what ``pg_dump`` writes of the schema, lower-cased."""
    return lambda schema: dumped(postgres_url, schema)


def compacted(url: str, schema: str) -> list[Path]:
    """``VACUUM FULL`` every table of the schema, ``CHECKPOINT``, and the files of every
    relation of the schema: its tables, their TOAST tables and every index of both."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        _outlive_older_snapshots(conn)
        tables = conn.execute(
            "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
            (schema,),
        ).fetchall()
        for (table,) in tables:
            conn.execute(sql.SQL("VACUUM FULL {}").format(sql.SQL(table)))
        conn.execute("CHECKPOINT")
        row = conn.execute("SHOW data_directory").fetchone()
        assert row is not None
        found = conn.execute(
            "WITH mine AS (SELECT c.oid, c.reltoastrelid FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s), "
            "rels AS (SELECT oid FROM mine UNION SELECT reltoastrelid FROM mine "
            "WHERE reltoastrelid <> 0 UNION SELECT i.indexrelid FROM pg_index i "
            "JOIN mine ON i.indrelid = mine.reltoastrelid) "
            "SELECT pg_relation_filepath(oid) FROM rels",
            (schema,),
        ).fetchall()
    data = Path(row[0])
    files: list[Path] = []
    for (relative,) in found:
        if relative is None:  # a relation without storage (a sequence's owner, ...)
            continue
        base = data / relative
        files += [base, *base.parent.glob(f"{base.name}.*")]  # 1 GB segments, forks
    readable = [f for f in files if f.is_file()]
    if not readable:
        pytest.skip(f"the cluster's data directory {data} is not readable here")
    return readable


def _outlive_older_snapshots(conn: Any) -> None:
    """Wait (a minute at most) until no other session of the database holds a snapshot
    taken before now: ``VACUUM FULL`` keeps the rows such a snapshot may still see, so
    another test's or process's open transaction would keep erased rows in the files."""
    import time

    row = conn.execute("SELECT pg_current_xact_id()::text").fetchone()
    assert row is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        older = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_xmin IS NOT NULL "
            "AND age(backend_xmin) > age(%s::xid)",
            (row[0],),
        ).fetchone()
        if older is None or older[0] == 0:
            return
        time.sleep(0.2)


def dumped(url: str, schema: str) -> bytes:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        pytest.skip("no pg_dump on PATH")
    done = subprocess.run(
        [pg_dump, f"--dbname={url}", f"--schema={schema}"],
        capture_output=True,
        check=True,
    )
    return done.stdout.lower()

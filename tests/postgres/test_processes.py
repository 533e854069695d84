"""Many processes, one PostgreSQL store (docs/scaling.md): what one writes, the
others see at their next read; consolidation runs in one place at a time; recalls
written back from several processes are all counted, once. Each "other process" is
a real one (``python -c``) with its own connections.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid

import psycopg
from psycopg import sql

from engramdb.store.postgres import PostgresStore
from engramdb.store.postgres.schema import SCHEMA_VERSION
from engramdb.testing.conformance import make_record


def _python(code: str, url: str, schema: str) -> subprocess.Popen[str]:
    """Another process running ``code`` with ``store``, a PostgresStore of the schema."""
    prelude = textwrap.dedent(f"""
        import sys, uuid
        from datetime import datetime, timezone
        from engramdb.store.postgres import PostgresStore
        from engramdb.testing.conformance import DIMS, make_record
        store = PostgresStore({url!r}, schema={schema!r}, dims=DIMS)
    """)
    return subprocess.Popen(
        [sys.executable, "-c", prelude + textwrap.dedent(code) + "\nstore.close()\n"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _done(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return out


def test_processes_opening_a_new_store_at_once_create_it_once(
    postgres_url: str, schema: str
) -> None:
    # the migrations run under an advisory lock on the schema: one process creates,
    # the others wait and find it made (docs/postgres.md)
    code = (
        "import sys, time\n"
        "from engramdb.store.postgres import PostgresStore\n"
        "time.sleep(max(0.0, float(sys.argv[1]) - time.time()))  # all at once\n"
        f"PostgresStore({postgres_url!r}, schema={schema!r}, dims=8).close()\n"
        "print('opened')\n"
    )
    go = str(time.time() + 15)  # the processes start slowly on a busy machine
    opening = [
        subprocess.Popen(
            [sys.executable, "-c", code, go],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    assert [_done(process).strip() for process in opening] == ["opened"] * 4
    with psycopg.connect(postgres_url) as conn:
        versions = conn.execute(
            sql.SQL("SELECT version FROM {}.schema_version ORDER BY version").format(
                sql.Identifier(schema)
            )
        ).fetchall()
    assert [v for (v,) in versions] == list(range(1, SCHEMA_VERSION + 1))


def test_a_write_in_another_process_moves_the_cached_catalog(
    store: PostgresStore, postgres_url: str, schema: str
) -> None:
    store.insert([make_record("u", "first", engram_id=uuid.uuid4().hex)])
    before = store.catalog("u")
    assert store.catalog("u") is before  # nothing moved: the same catalog, indexes kept
    _done(
        _python(
            'store.insert([make_record("u", "second", engram_id=uuid.uuid4().hex)])',
            postgres_url,
            schema,
        )
    )
    after = store.catalog("u")
    assert after is not before
    assert len(after.ids) == 2
    # another namespace's write leaves this one's catalog as it was
    _done(
        _python(
            'store.insert([make_record("v", "elsewhere", engram_id=uuid.uuid4().hex)])',
            postgres_url,
            schema,
        )
    )
    assert store.catalog("u") is after
    # an erasure elsewhere empties it here too
    _done(_python('store.forget_namespace("u")', postgres_url, schema))
    assert len(store.catalog("u").ids) == 0


def test_a_second_consolidation_runner_waits_for_the_first(
    store: PostgresStore, postgres_url: str, schema: str
) -> None:
    with store.consolidating("u"):
        other = _python(
            """
            print("waiting", flush=True)
            with store.consolidating("u"):
                print("running", flush=True)
            """,
            postgres_url,
            schema,
        )
        assert other.stdout is not None
        assert other.stdout.readline().strip() == "waiting"
        _until_an_advisory_lock_is_awaited(postgres_url)
        # another namespace is not held up by this one
        _done(_python('with store.consolidating("v"):\n    print("v")', postgres_url, schema))
    assert _done(other).strip() == "running"


def test_recalls_written_back_from_several_processes_are_all_counted(
    store: PostgresStore, postgres_url: str, schema: str
) -> None:
    memory = make_record("u", "recalled from everywhere", engram_id=uuid.uuid4().hex)
    store.insert([memory])
    recalls = 40
    # each process reads the memory's count, recalls it and writes back at once, as a
    # server does (Memory's DynamicsKeeper); two at once read the same count
    code = f"""
        from engramdb.dynamics.keeper import DynamicsKeeper
        from engramdb.testing.conformance import EMBEDDER
        keeper = DynamicsKeeper(store, EMBEDDER, flush_every=1)
        for i in range({recalls}):
            keeper.recalled("u", [{memory.id!r}], datetime(2024, 1, 2, tzinfo=timezone.utc))
    """
    others = [_python(code, postgres_url, schema) for _ in range(3)]
    for other in others:
        _done(other)
    assert store.get("u", memory.id).recalls == 3 * recalls


def _until_an_advisory_lock_is_awaited(url: str) -> None:
    deadline = time.monotonic() + 120
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            ).fetchone()
            if row and row[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the second runner never waited for the lock")

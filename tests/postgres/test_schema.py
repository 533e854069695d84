"""A PostgresStore's schema: made once by processes that open it at once, migrated
in order, refused when newer than this engramdb (docs/postgres.md)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg import sql

from engramdb.errors import SchemaError
from engramdb.store.postgres import PostgresStore
from engramdb.store.postgres.schema import SCHEMA_VERSION


def _versions(url: str, schema: str) -> list[int]:
    with psycopg.connect(url) as conn:
        found = conn.execute(
            sql.SQL("SELECT version FROM {}.schema_version ORDER BY version").format(
                sql.Identifier(schema)
            )
        ).fetchall()
    return [int(v) for (v,) in found]


def test_stores_opened_at_once_make_the_schema_once(postgres_url: str, schema: str) -> None:
    def opened(_: int) -> list[str]:
        store = PostgresStore(postgres_url, schema=schema)
        try:
            return store.namespaces()
        finally:
            store.close()

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(opened, range(6))) == [[]] * 6
    assert _versions(postgres_url, schema) == list(range(1, SCHEMA_VERSION + 1))
    PostgresStore(postgres_url, schema=schema).close()  # a reopen migrates nothing
    assert _versions(postgres_url, schema) == list(range(1, SCHEMA_VERSION + 1))


def test_a_schema_newer_than_this_engramdb_is_refused(postgres_url: str, schema: str) -> None:
    PostgresStore(postgres_url, schema=schema).close()
    with psycopg.connect(postgres_url) as conn:
        conn.execute(
            sql.SQL("INSERT INTO {}.schema_version (version) VALUES (%s)").format(
                sql.Identifier(schema)
            ),
            (SCHEMA_VERSION + 1,),
        )
    with pytest.raises(SchemaError, match="upgrade engramdb"):
        PostgresStore(postgres_url, schema=schema)
    with pytest.raises(SchemaError, match="upgrade engramdb"):
        PostgresStore(postgres_url, schema=schema, read_only=True)


def test_stores_in_two_schemas_do_not_see_each_other(postgres_url: str, schema: str) -> None:
    from engramdb.testing.conformance import make_record

    other = f"{schema}_b"
    try:
        with_memory = PostgresStore(postgres_url, schema=schema)
        empty = PostgresStore(postgres_url, schema=other)
        try:
            with_memory.insert([make_record("ns", "only in the first schema")])
            assert with_memory.namespaces() == ["ns"]
            assert empty.namespaces() == []
            assert empty.lexical_search("ns", ["schema"], 5) == []
        finally:
            with_memory.close()
            empty.close()
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(other)))

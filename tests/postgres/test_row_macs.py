"""The MAC of each memory's row and each version's in an encrypted PostgreSQL store
(docs/security.md, ``store.postgres.macs``): a clear column altered in the database
(its kind, its times) is a ``DecryptionError`` on read and a problem of ``check()``,
never a silently altered value; a write does not launder it; the rows of a store
encrypted before the column existed get theirs at its first open with the key.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from psycopg import sql

from engramdb import DecryptionError, EncryptionKey, Memory, Settings
from engramdb.embed import Embedder
from engramdb.security.crypto import generate_key


@pytest.fixture
def schema(postgres_url: str) -> Iterator[str]:
    name = f"macs_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def _memory(url: str, schema: str, embedder: Embedder, key: EncryptionKey | None) -> Memory:
    location = f"{url}{'&' if '?' in url else '?'}schema={schema}"
    return Memory(location, embedder=embedder, settings=Settings(encryption=key))


def _sql(url: str, schema: str, statement: str, params: tuple[object, ...] = ()) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        conn.execute(statement.encode(), params)


def _rowid(url: str, schema: str, engram_id: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        row = conn.execute("SELECT rowid FROM engrams WHERE id = %s", (engram_id,)).fetchone()
    assert row is not None
    return int(row[0])


def test_an_altered_clear_column_is_refused_on_read_and_counted_by_check(
    postgres_url: str, schema: str, embedder: Embedder
) -> None:
    key = EncryptionKey.from_text(generate_key())
    with _memory(postgres_url, schema, embedder, key) as mem:
        kept = mem.add("kept as written", namespace="a")
        kind = mem.add("its kind is altered", namespace="a")
        moved = mem.add("its time is moved", namespace="a")
        assert mem.check() == []
    _sql(postgres_url, schema, "UPDATE engrams SET kind = 'episoee' WHERE id = %s", (kind.id,))
    _sql(
        postgres_url,
        schema,
        "UPDATE engrams SET recorded_at = recorded_at - interval '1 year' WHERE id = %s",
        (moved.id,),
    )
    rows = sorted((_rowid(postgres_url, schema, kind.id), _rowid(postgres_url, schema, moved.id)))
    with _memory(postgres_url, schema, embedder, key) as mem:
        assert mem.get(kept.id, namespace="a").text == "kept as written"
        for altered in (kind, moved):
            with pytest.raises(DecryptionError, match="does not authenticate"):
                mem.get(altered.id, namespace="a")
        expected = f"engrams: 2 rows do not authenticate (rows {rows[0]}, {rows[1]})"
        assert expected in mem.check()
        # a write to an altered row is refused and leaves the damage to find
        with pytest.raises(DecryptionError):
            mem.update(moved.id, namespace="a", text="written over")
        with pytest.raises(DecryptionError):
            mem.set_expiry(kind.id, namespace="a", expires_at=None)
        assert expected in mem.check()


def test_every_write_of_a_covered_column_writes_the_mac_again(
    postgres_url: str, schema: str, embedder: Embedder
) -> None:
    key = EncryptionKey.from_text(generate_key())
    with _memory(postgres_url, schema, embedder, key) as mem:
        first = mem.add("Maya moved to Lisbon.", namespace="a", session="s")
        mem.add_many([{"text": "She works as a nurse.", "session": "s"}], namespace="a")
        mem.update(first.id, namespace="a", text="Maya moved to Porto.")
        later = datetime.now(timezone.utc) + timedelta(days=30)
        mem.set_expiry(first.id, namespace="a", expires_at=later)
        assert mem.get(first.id, namespace="a").expires_at is not None
        mem.consolidate(namespace="a")
        mem.search("Where does Maya live?", namespace="a")
        assert mem.check() == []
    with _memory(postgres_url, schema, embedder, key) as mem:
        assert mem.get(first.id, namespace="a").text == "Maya moved to Porto."
        assert mem.check() == []


def test_a_plaintext_store_writes_no_mac(
    postgres_url: str, schema: str, embedder: Embedder
) -> None:
    with _memory(postgres_url, schema, embedder, None) as mem:
        added = mem.add("plain words", namespace="a")
    _sql(postgres_url, schema, "UPDATE engrams SET kind = 'episoee' WHERE id = %s", (added.id,))
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        assert conn.execute("SELECT count(*) FROM engrams WHERE mac IS NOT NULL").fetchone() == (0,)
    with _memory(postgres_url, schema, embedder, None) as mem:
        assert mem.get(added.id, namespace="a").kind == "episoee"  # nothing authenticates it


def test_rows_written_before_their_macs_get_them_at_the_first_open_with_the_key(
    postgres_url: str, schema: str, embedder: Embedder
) -> None:
    key = EncryptionKey.from_text(generate_key())
    with _memory(postgres_url, schema, embedder, key) as mem:
        added = mem.add("written before", namespace="a")
    # as migration 12 leaves an encrypted store that held rows
    _sql(postgres_url, schema, "UPDATE engrams SET mac = NULL")
    _sql(postgres_url, schema, "UPDATE versions SET mac = NULL")
    with _memory(postgres_url, schema, embedder, key) as mem:
        problems = " ".join(mem.check())
        assert "engrams: 1 row does not authenticate" in problems
        assert "versions: 1 row does not authenticate" in problems
    _sql(postgres_url, schema, "INSERT INTO macs_pending (id) VALUES (1)")
    with _memory(postgres_url, schema, embedder, key) as mem:
        assert mem.check() == []
        assert mem.get(added.id, namespace="a").text == "written before"
        assert len(mem.history(added.id, namespace="a")) == 1


def test_an_altered_version_row_is_refused_by_history_and_counted_by_check(
    postgres_url: str, schema: str, embedder: Embedder
) -> None:
    key = EncryptionKey.from_text(generate_key())
    with _memory(postgres_url, schema, embedder, key) as mem:
        added = mem.add("Maya lives in Lisbon.", namespace="a")
        mem.update(added.id, namespace="a", text="Maya lives in Porto.")
        assert len(mem.history(added.id, namespace="a")) == 2
        assert mem.check() == []
    rowid = _rowid(postgres_url, schema, added.id)
    _sql(
        postgres_url,
        schema,
        "UPDATE versions SET valid_to = valid_to + interval '1 year' "
        "WHERE engram_rowid = %s AND version = 1",
        (rowid,),
    )
    with _memory(postgres_url, schema, embedder, key) as mem:
        assert mem.get(added.id, namespace="a").text == "Maya lives in Porto."
        with pytest.raises(DecryptionError, match="version 1 of memory"):
            mem.history(added.id, namespace="a")
        expected = f"versions: 1 row does not authenticate (row {rowid}/1)"
        assert expected in mem.check()
        with pytest.raises(DecryptionError):  # a new version would seal the altered one
            mem.update(added.id, namespace="a", text="Maya lives in Faro.")
        assert expected in mem.check()

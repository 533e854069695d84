"""The MAC of each fact's row, each provenance link's and each pinned profile entry's
in an encrypted PostgreSQL store (docs/security.md, "On PostgreSQL";
``store.postgres.macs.OWNED``): every column an attacker with write access to the
database could alter to change what recall returns (a fact's validity, status,
supersession, lookup, the ends and the relation of a link, when an entry was pinned
and unpinned) is covered, so an altered one is a ``DecryptionError`` on read
and a problem of ``check()``; a write does not launder it; the rows of a store
encrypted before the column existed get theirs at its first open with the key.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from psycopg import sql

from engramdb import DecryptionError, EncryptionKey, Engram, Memory, Settings
from engramdb.security.crypto import generate_key
from engramdb.store.postgres.macs import FACTS, LINKS, PROFILE
from engramdb.testing.fakes import HashEmbedder

from .conftest import located

T0 = datetime(2023, 1, 2, 9, 0, tzinfo=timezone.utc)
NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)
NS = "a"

# How each covered column is altered into another well-formed value (the Boston fact,
# superseded, has every column set; ``{boston}``, ``{denver}``: the facts' rows,
# ``{said}``, ``{moved}``: their episodes' rows).
FACT_FLIPS = {
    "engram_rowid": "engram_rowid = {said}",
    "namespace": "namespace = 'b'",
    "subject": "subject = value",
    "attribute": "attribute = subject",
    "value": "value = (SELECT value FROM facts WHERE engram_rowid = {denver})",
    "valid_from": "valid_from = valid_from - interval '1 day'",
    "valid_to": "valid_to = valid_to + interval '30 days'",
    "recorded_at": "recorded_at = recorded_at - interval '1 day'",
    "invalidated_at": "invalidated_at = invalidated_at + interval '1 day'",
    "status": "status = 'current'",
    "superseded_by": "superseded_by = NULL",
    "lookup": "lookup = (SELECT lookup FROM facts WHERE engram_rowid = {denver}) || 'x'",
}
LINK_FLIPS = {
    "derived_rowid": "derived_rowid = {denver}",
    "source_rowid": "source_rowid = {moved}",
    "relation": "relation = 'derived'",
}


def test_every_column_of_a_fact_and_a_link_is_covered() -> None:
    assert set(FACT_FLIPS) == set(FACTS.fields)
    assert set(LINK_FLIPS) == set(LINKS.fields)


def _memory(url: str, schema: str, key: EncryptionKey | None) -> Memory:
    return Memory(
        located(url, schema),
        embedder=HashEmbedder(),
        settings=Settings(encryption=key, consolidation_batch=4),
    )


def _execute(url: str, schema: str, statement: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        found = conn.execute(statement.encode())
        return found.fetchall() if found.description else []


def _written(url: str, schema: str, key: EncryptionKey | None) -> dict[str, int]:
    """Boston then Denver, consolidated (and a memory of namespace ``b``); the rows."""
    with _memory(url, schema, key) as mem:
        said, moved = mem.add_many(
            [
                {"text": "I live in Boston.", "speaker": "Maya", "occurred_at": T0},
                {
                    "text": "I just moved to Denver!",
                    "speaker": "Maya",
                    "occurred_at": T0 + timedelta(days=100),
                },
            ],
            namespace=NS,
        )
        mem.add("another namespace", namespace="b")
        mem.consolidate(namespace=NS, now=NOW)
        boston, denver = mem.facts(namespace=NS, subject="Maya", attribute="residence")
        assert boston.status == "superseded"
        assert mem.check() == []
    ids = {"said": said.id, "moved": moved.id, "boston": boston.engram_id}
    ids["denver"] = denver.engram_id
    rowid = dict(_execute(url, schema, "SELECT id, rowid FROM engrams"))
    return {name: int(str(rowid[i])) for name, i in ids.items()}


def _engram(mem: Memory, url: str, schema: str, rowid: int) -> Engram:
    [(engram_id,)] = _execute(url, schema, f"SELECT id FROM engrams WHERE rowid = {rowid}")
    return mem.get(str(engram_id), namespace=NS)


@pytest.mark.parametrize(
    ("table", "column"),
    [("facts", c) for c in FACT_FLIPS] + [("provenance", c) for c in LINK_FLIPS],
)
def test_an_altered_column_is_refused_on_read_and_counted_by_check(
    postgres_url: str, schema: str, table: str, column: str
) -> None:
    key = EncryptionKey.from_text(generate_key())
    rows = _written(postgres_url, schema, key)
    flip = (FACT_FLIPS if table == "facts" else LINK_FLIPS)[column].format(**rows)
    owner = "engram_rowid" if table == "facts" else "derived_rowid"
    altered = _execute(
        postgres_url,
        schema,
        f"UPDATE {table} SET {flip} WHERE {owner} = {rows['boston']} RETURNING {owner}",
    )
    assert len(altered) == 1
    with _memory(postgres_url, schema, key) as mem:
        read_in = "b" if column == "namespace" else NS
        with pytest.raises(DecryptionError, match="does not authenticate"):
            mem.facts(namespace=read_in)
        problems = mem.check()
        assert any(p.startswith(f"{table}: 1 row does not authenticate") for p in problems), (
            problems
        )


def test_an_erasure_does_not_launder_an_altered_fact(postgres_url: str, schema: str) -> None:
    key = EncryptionKey.from_text(generate_key())
    rows = _written(postgres_url, schema, key)
    _execute(
        postgres_url,
        schema,
        "UPDATE facts SET valid_from = valid_from - interval '1 day' "
        f"WHERE engram_rowid = {rows['boston']}",
    )
    with _memory(postgres_url, schema, key) as mem:
        moved = _engram(mem, postgres_url, schema, rows["moved"])
        # the erasure would reopen the Boston fact: it checks that row first
        with pytest.raises(DecryptionError, match=f"facts row {rows['boston']}"):
            mem.delete(moved.id, namespace=NS)
        assert mem.get(moved.id, namespace=NS).text == "I just moved to Denver!"
        assert "facts: 1 row does not authenticate" in " ".join(mem.check())


def test_every_write_of_facts_and_links_writes_their_macs(postgres_url: str, schema: str) -> None:
    key = EncryptionKey.from_text(generate_key())
    rows = _written(postgres_url, schema, key)
    missing = "SELECT count(*) FROM {} WHERE mac IS NULL"
    for table in ("facts", "provenance"):
        assert _execute(postgres_url, schema, missing.format(table)) == [(0,)]
    with _memory(postgres_url, schema, key) as mem:
        moved = _engram(mem, postgres_url, schema, rows["moved"])
        mem.delete(moved.id, namespace=NS)  # Boston is current again: written anew
        [boston] = mem.facts(namespace=NS)
        assert (boston.status, _execute(postgres_url, schema, "SELECT count(*) FROM facts")) == (
            "current",
            [(1,)],
        )
        mem.add("I moved to Seattle.", namespace=NS, speaker="Maya", occurred_at=NOW)
        mem.consolidate(namespace=NS, now=NOW + timedelta(days=1))  # closes it again
        assert [f.status for f in mem.facts(namespace=NS)] == ["superseded", "current"]
        assert mem.check() == []
    assert rows["boston"] > 0


def test_a_plaintext_store_writes_no_mac_on_facts_or_links(postgres_url: str, schema: str) -> None:
    _written(postgres_url, schema, None)
    for table in ("facts", "provenance"):
        found = _execute(
            postgres_url, schema, f"SELECT count(*) FROM {table} WHERE mac IS NOT NULL"
        )
        assert found == [(0,)]
    _execute(postgres_url, schema, "UPDATE facts SET status = 'stale'")
    with _memory(postgres_url, schema, None) as mem:
        assert {f.status for f in mem.facts(namespace=NS)} == {"stale"}  # nothing authenticates


def test_facts_and_links_written_before_their_macs_get_them_at_the_first_open(
    postgres_url: str, schema: str
) -> None:
    key = EncryptionKey.from_text(generate_key())
    _written(postgres_url, schema, key)
    # as migration 14 leaves an encrypted store that held rows
    _execute(postgres_url, schema, "UPDATE facts SET mac = NULL")
    _execute(postgres_url, schema, "UPDATE provenance SET mac = NULL")
    with _memory(postgres_url, schema, key) as mem:
        problems = " ".join(mem.check())
        assert "facts: 2 rows do not authenticate" in problems
        assert "provenance: 2 rows do not authenticate" in problems
    _execute(
        postgres_url, schema, "INSERT INTO macs_pending_tables VALUES ('facts'), ('provenance')"
    )
    with _memory(postgres_url, schema, key) as mem:
        assert mem.check() == []
        assert len(mem.facts(namespace=NS)) == 2


# A pinned profile entry's first version, closed by a second (every column set).
PROFILE_FLIPS = {
    "namespace": "namespace = 'b'",
    "key": "key = key || 'x'",
    "version": "version = 7",
    "text": "text = (SELECT text FROM profile_entries WHERE version = 2)",
    "valid_from": "valid_from = valid_from - interval '1 day'",
    "valid_to": "valid_to = NULL",
    "source_id": "source_id = repeat('0', 32)",
    "sealed_key": "sealed_key = text",
}


def test_every_column_of_a_profile_entry_is_covered() -> None:
    assert set(PROFILE_FLIPS) == set(PROFILE.fields)


@pytest.mark.parametrize("column", PROFILE_FLIPS)
def test_an_altered_profile_entry_is_refused_on_read_and_counted_by_check(
    postgres_url: str, schema: str, column: str
) -> None:
    key = EncryptionKey.from_text(generate_key())
    with _memory(postgres_url, schema, key) as mem:
        mem.add("I live in Boston.", namespace=NS, speaker="Maya")
        mem.consolidate(namespace=NS, now=NOW)
        [fact] = mem.facts(namespace=NS)
        mem.pin("home", "Maya lives in Boston.", namespace=NS, source_id=fact.engram_id)
        mem.pin("home", "Maya lives in Denver.", namespace=NS)
        mem.pin("home", "Tom lives in Lyon.", namespace="b")
        assert [e.valid_to is None for e in mem.profile(namespace=NS, history=True)] == [
            False,
            True,
        ]
        assert mem.check() == []
    flip = PROFILE_FLIPS[column]
    altered = _execute(
        postgres_url,
        schema,
        f"UPDATE profile_entries SET {flip} WHERE namespace = '{NS}' AND version = 1 "
        "RETURNING version",
    )
    assert len(altered) == 1
    with _memory(postgres_url, schema, key) as mem:
        read_in = "b" if column == "namespace" else NS
        with pytest.raises(DecryptionError, match="does not authenticate"):
            mem.profile(namespace=read_in, history=True)
        problems = mem.check()
        assert any(p.startswith("profile_entries: 1 row does not authenticate") for p in problems)
        with pytest.raises(DecryptionError):  # a pin does not reseal the altered row
            mem.pin("home", "Maya lives in Seattle.", namespace=read_in)


def test_pinning_and_unpinning_write_the_profile_macs(postgres_url: str, schema: str) -> None:
    key = EncryptionKey.from_text(generate_key())
    with _memory(postgres_url, schema, key) as mem:
        mem.pin("home", "Maya lives in Boston.", namespace=NS)
        mem.pin("home", "Maya lives in Denver.", namespace=NS)
        mem.unpin("home", namespace=NS)
        assert len(mem.profile(namespace=NS, history=True)) == 2
        assert mem.check() == []
    missing = "SELECT count(*) FROM profile_entries WHERE mac IS NULL"
    assert _execute(postgres_url, schema, missing) == [(0,)]
    _execute(postgres_url, schema, "UPDATE profile_entries SET mac = NULL")
    _execute(postgres_url, schema, "INSERT INTO macs_pending_tables VALUES ('profile_entries')")
    with _memory(postgres_url, schema, key) as mem:  # as migration 16 leaves it
        assert mem.check() == []
        assert mem.profile(namespace=NS) == []

"""Encryption at rest on PostgreSQL (docs/security.md, docs/postgres.md "Encryption at
rest"): an encrypted store leaves no canary in clear in any relation file of its
schema nor in ``pg_dump``, never hands pgvector a vector, reads everything back with
its key, refuses without it, and is made by encrypting a plaintext store in place;
rotation re-wraps the data keys; erasure destroys a namespace's key.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from canaries import CANARIES, new_key, turns
from engramdb import DecryptionError, EncryptionKey, InvalidInputError, Memory, Settings
from engramdb.cli import app
from engramdb.cli.state import State
from engramdb.embed import Embedder
from engramdb.errors import StoreError
from engramdb.security import where_found
from engramdb.store.postgres import PostgresStore
from engramdb.testing.conformance import make_record

from .conftest import located

Scan = Callable[[str], list[Path]]  # the fixtures of conftest.py
Dump = Callable[[str], bytes]


def _memory(
    url: str, schema: str, embedder: Embedder, key: EncryptionKey | None, **kw: Any
) -> Memory:
    settings = Settings(encryption=key, consolidation_batch=4, **kw)
    return Memory(located(url, schema), embedder=embedder, settings=settings)


def _fill(mem: Memory) -> None:
    added = mem.add_many(turns(), namespace="private")
    mem.update(added[1].id, namespace="private", text="What do you do in Quillfenwick?")
    mem.add("Vexmortain again", namespace="private", idempotency_key="Plumtrazzle-key")
    mem.consolidate(namespace="private")
    mem.search("Where does Maya work?", namespace="private")  # reinforcement writes
    assert mem.search("Where?", namespace="private", where={"speaker": "Maya Zorbaxqy"})
    mem.add("Tom likes chess.", namespace="other")
    mem.pin("Snorkelbrand", "Maya Zorbaxqy, from Quillfenwick", namespace="private")
    mem.pin("Snorkelbrand", "Maya Zorbaxqy, from Vexmortain", namespace="private")


def _canaries_in(dump: bytes) -> list[str]:
    return [c for c in CANARIES if c.lower().encode() in dump]


def test_an_encrypted_store_leaves_no_canary_in_relation_files_or_dump(
    postgres_url: str,
    schemas: Callable[[], str],
    embedder: Embedder,
    relation_files: Scan,
    dump: Dump,
) -> None:
    plain, sealed = schemas(), schemas()
    with _memory(postgres_url, plain, embedder, None) as mem:
        _fill(mem)  # the control: the scans below can fail
    assert where_found(relation_files(plain), CANARIES)
    assert _canaries_in(dump(plain)) == list(CANARIES)
    with _memory(postgres_url, sealed, embedder, new_key()) as mem:
        assert mem.encrypted
        _fill(mem)
        assert mem.check() == []
    assert where_found(relation_files(sealed), CANARIES) == []
    assert _canaries_in(dump(sealed)) == []
    # nor a lower-cased or stemmed word of them in the lexical terms
    words = ["quillfenwick", "nurse", "adopted", "plumtrazzl"]
    assert where_found(relation_files(sealed), words) == []


def test_pgvector_is_never_given_a_vector_of_an_encrypted_store(
    postgres_url: str, schemas: Callable[[], str], embedder: Embedder
) -> None:
    schema = schemas()
    with _memory(postgres_url, schema, embedder, new_key(), ann_threshold=3) as mem:
        _fill(mem)
        # above ann_threshold: the in-process graph of the opened vectors answers
        hits = mem.search("Where does Maya work?", namespace="private", reinforce=False)
        assert "Plumtrazzle" in hits[0].engram.text
    with psycopg.connect(postgres_url) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        row = conn.execute(
            "SELECT count(*), count(embedding), count(sealed_vector) FROM engrams"
        ).fetchone()
    assert row is not None
    assert row[0] > 5
    assert row[1:] == (0, row[0])


def test_everything_reads_back_with_the_key_and_ranks_as_plaintext(
    postgres_url: str, schemas: Callable[[], str], embedder: Embedder
) -> None:
    key, rankings = new_key(), []
    for k in (None, key):
        with _memory(postgres_url, schemas(), embedder, k) as mem:
            _fill(mem)
            rankings.append(
                [
                    [h.engram.text for h in mem.search(q, namespace="private", reinforce=False)]
                    for q in ("Where does Maya work?", "the dog", "moved", "good life")
                ]
            )
            hit = mem.search("Where does Maya work?", namespace="private", limit=1)[0]
            assert hit.engram.speaker == "Maya Zorbaxqy"
            assert hit.engram.metadata == {"note": "Snorkelbrand"}
            changed = next(e for e in mem.store.iter_engrams("private") if e.version == 2)
            assert [v.text for v in mem.history(changed.id, namespace="private")] == [
                "Nice! What do you do there?",
                "What do you do in Quillfenwick?",
            ]
            facts = mem.facts(namespace="private")
            assert facts
            one = facts[0]
            assert one in mem.facts(namespace="private", subject=one.subject)
            assert mem.facts(namespace="private", subject="nobody") == []
            assert mem.store.lexical_search("private", ["Plumtrazzle labs"], 5)
            assert [(e.key, e.text) for e in mem.profile(namespace="private", history=True)] == [
                ("Snorkelbrand", "Maya Zorbaxqy, from Quillfenwick"),
                ("Snorkelbrand", "Maya Zorbaxqy, from Vexmortain"),
            ]
            again = mem.add(
                "Vexmortain again", namespace="private", idempotency_key="Plumtrazzle-key"
            )
            assert again.repeated
            assert mem.check() == []
    assert rankings[0] == rankings[1]


def test_no_key_a_wrong_key_or_a_key_on_a_plaintext_store_is_refused(
    postgres_url: str, schemas: Callable[[], str], embedder: Embedder
) -> None:
    sealed, plain, key = schemas(), schemas(), new_key()
    with _memory(postgres_url, sealed, embedder, key) as mem:
        mem.add("a secret", namespace="a")
    with pytest.raises(DecryptionError, match="encrypted"):
        _memory(postgres_url, sealed, embedder, None)
    with pytest.raises(DecryptionError, match="wrong master key"):
        _memory(postgres_url, sealed, embedder, new_key())
    with _memory(postgres_url, plain, embedder, None) as mem:
        mem.add("plain text", namespace="a")
    with pytest.raises(StoreError, match="not encrypted") as refused:
        _memory(postgres_url, plain, embedder, new_key())
    assert "encrypt-store" in str(refused.value)
    assert postgres_url not in str(refused.value)  # the URL may hold a password


def test_an_ordering_filter_is_refused_as_on_sqlite(
    postgres_url: str, schemas: Callable[[], str], embedder: Embedder
) -> None:
    with _memory(postgres_url, schemas(), embedder, new_key()) as mem:
        mem.add("n is three", namespace="a", metadata={"n": 3})
        with pytest.raises(InvalidInputError, match="encrypted"):
            mem.search("three", namespace="a", where={"metadata.n": {"$gt": 1}})
        assert mem.search("three", namespace="a", where={"metadata.n": 3})


def test_altered_ciphertext_raises_and_check_counts_it(
    postgres_url: str, schemas: Callable[[], str], embedder: Embedder
) -> None:
    schema, key = schemas(), new_key()
    with _memory(postgres_url, schema, embedder, key) as mem:
        kept = mem.add("kept", namespace="a")
        hit = mem.add("altered", namespace="a")
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        # another memory's ciphertext: it does not open under this row's associated data
        conn.execute(
            "UPDATE engrams SET text = (SELECT text FROM engrams WHERE id = %s) WHERE id = %s",
            (kept.id, hit.id),
        )
        conn.execute("UPDATE versions SET text = 'plain words' WHERE version = 1")
    with _memory(postgres_url, schema, embedder, key) as mem:
        with pytest.raises(DecryptionError):
            mem.get(hit.id, namespace="a")
        problems = mem.check()
        assert "engrams: 1 values fail to decrypt" in problems
        assert "versions: 2 values fail to decrypt" in problems


def test_a_plaintext_store_is_encrypted_in_place_and_rotated(
    postgres_url: str,
    schemas: Callable[[], str],
    embedder: Embedder,
    relation_files: Scan,
    dump: Dump,
) -> None:
    schema, key, new = schemas(), new_key(), new_key()
    with _memory(postgres_url, schema, embedder, None) as mem:
        _fill(mem)
        before = [
            [h.engram.id for h in mem.search(q, namespace="private", reinforce=False)]
            for q in ("Where does Maya work?", "the dog")
        ]
        assert not mem.encrypted
        assert mem.encrypt(key) == mem.stats(namespace="private").engrams + 1
        assert mem.encrypted
        with pytest.raises(StoreError, match="already encrypted"):
            mem.encrypt(new_key())
    assert _canaries_in(dump(schema)) == []
    assert where_found(relation_files(schema), CANARIES) == []  # after VACUUM FULL
    with _memory(postgres_url, schema, embedder, key) as mem:
        assert mem.check() == []
        after = [
            [h.engram.id for h in mem.search(q, namespace="private", reinforce=False)]
            for q in ("Where does Maya work?", "the dog")
        ]
        assert after == before
        assert mem.rotate_master_key(new) == 2  # "private" and "other"
    with pytest.raises(DecryptionError, match="wrong master key"):
        _memory(postgres_url, schema, embedder, key)
    with _memory(postgres_url, schema, embedder, new) as mem:
        assert mem.search("Where does Maya work?", namespace="private", reinforce=False)
        assert mem.check() == []


def test_forgetting_a_namespace_destroys_its_data_key(
    postgres_url: str, schemas: Callable[[], str]
) -> None:
    schema = schemas()
    store = PostgresStore(postgres_url, schema=schema, encryption=new_key())
    try:
        store.insert([make_record("gone", "a secret"), make_record("kept", "another")])
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            found = conn.execute("SELECT namespace FROM namespace_keys ORDER BY 1").fetchall()
            assert found == [("gone",), ("kept",)]
            assert store.forget_namespace("gone") == 1
            found = conn.execute("SELECT namespace FROM namespace_keys ORDER BY 1").fetchall()
            assert found == [("kept",)]
        # a new memory of the name gets a new key
        store.insert([make_record("gone", "a new start")])
        assert [e.text for e in store.iter_engrams("gone")] == ["a new start"]
    finally:
        store.close()


def test_vectors_can_stay_plain_for_pgvector_when_asked(
    postgres_url: str, schemas: Callable[[], str], embedder: Embedder
) -> None:
    schema = schemas()
    settings: dict[str, Any] = {"encrypt_vectors": False}
    with _memory(postgres_url, schema, embedder, new_key(), **settings) as mem:
        _fill(mem)
        assert (
            "Plumtrazzle" in mem.search("Where does Maya work?", namespace="private")[0].engram.text
        )
    with psycopg.connect(postgres_url) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        row = conn.execute("SELECT count(sealed_vector), count(embedding) FROM engrams").fetchone()
    assert row is not None
    assert row[0] == 0
    assert row[1] > 5


def test_engram_keys_encrypt_store_seals_a_postgresql_store_and_names_vacuum_full(
    postgres_url: str,
    schemas: Callable[[], str],
    embedder: Embedder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dump: Dump,
) -> None:
    schema = schemas()
    location = located(postgres_url, schema)

    def memory(self: State) -> Memory:
        return Memory(settings=self.settings, embedder=embedder)

    monkeypatch.setattr(State, "memory", memory)
    runner = CliRunner()
    added = runner.invoke(app, ["--store", location, "add", "Maya keeps a Quokkaberry", "-n", "u"])
    assert added.exit_code == 0, added.output
    key = tmp_path / "master.key"
    done = runner.invoke(
        app,
        ["--store", location, "keys", "encrypt-store", "--generate", "--new-key-file", str(key)],
    )
    assert done.exit_code == 0, done.output
    assert "encrypted 1 memories" in done.stdout
    assert "VACUUM FULL" in done.stdout
    assert postgres_url not in done.output
    assert b"quokkaberry" not in dump(schema)
    monkeypatch.setenv("ENGRAMDB_MASTER_KEY_FILE", str(key))
    found = runner.invoke(app, ["--store", location, "search", "plant", "-n", "u"])
    assert "Quokkaberry" in found.stdout


def test_two_writers_of_a_new_namespace_share_one_data_key(
    postgres_url: str, schemas: Callable[[], str]
) -> None:
    # the first holds its new key uncommitted; the second's insert waits on it, then
    # takes that key instead of failing on the namespace's row (READ COMMITTED)
    schema, key = schemas(), new_key()
    first = PostgresStore(postgres_url, schema=schema, encryption=key)
    second = PostgresStore(postgres_url, schema=schema, encryption=key)
    record = make_record("new", "written by the second writer")
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            with first._db.write("a new namespace") as conn:  # private: holds the race open
                made = first._keys.cipher(conn, "new", create=True)
                waiting = pool.submit(second.insert, [record])
                with pytest.raises(concurrent.futures.TimeoutError):
                    waiting.result(timeout=0.5)  # blocked behind the uncommitted key
                sealed = made.seal("the first's", "engrams.text:x")
            assert [e.id for e in waiting.result(timeout=30)] == [record.id]
        for store in (first, second):
            assert [e.text for e in store.iter_engrams("new")] == [record.text]
        with second._db.read() as conn:
            assert second._keys.cipher(conn, "new").open(sealed, "engrams.text:x") == "the first's"
    finally:
        first.close()
        second.close()


def test_forgetting_an_encrypted_namespace_leaves_no_id_row_or_key_in_the_files(
    postgres_url: str,
    schemas: Callable[[], str],
    embedder: Embedder,
    relation_files: Scan,
    dump: Dump,
) -> None:
    # no text is ever in the files of an encrypted store: the ids (in clear) show
    # whether anything of the namespace is left (docs/security.md, "Erasure")
    schema = schemas()
    with _memory(postgres_url, schema, embedder, new_key()) as mem:
        _fill(mem)
        ids = [str(e["id"]) for e in mem.export(namespace="private") if "id" in e]
        assert len(ids) > 5
        assert where_found(relation_files(schema), ids)  # seen first
        assert mem.forget_namespace("private") > 0
        assert mem.namespaces() == ["other"]
        assert mem.check() == []
    assert where_found(relation_files(schema), ids) == []
    dumped = dump(schema)
    assert [i for i in ids if i.encode() in dumped] == []
    assert b"private" not in dumped  # no key row, no change mark, no profile or budget


def test_threads_search_an_encrypted_namespace_side_by_side(
    postgres_url: str, schemas: Callable[[], str]
) -> None:
    # a server's threads share the in-process index of each namespace
    store = PostgresStore(postgres_url, schema=schemas(), encryption=new_key(), ann_threshold=5)
    try:
        records = [make_record(f"ns{i % 3}", f"note number {i}") for i in range(30)]
        store.insert(records)
        queries = [(r.namespace, r.vector) for r in records]
        expected = [store.vector_search(ns, v, 3)[0].id for ns, v in queries]
        assert expected == [r.id for r in records]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for _ in range(3):
                store.insert([make_record("ns0", "one more, so the index is built again")])
                found = list(pool.map(lambda q: store.vector_search(q[0], q[1], 3)[0].id, queries))
                assert found == expected
    finally:
        store.close()

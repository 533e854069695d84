"""Encryption at rest: no plaintext in any file, wrong keys and tampering refused."""

from __future__ import annotations

import concurrent.futures
import hashlib
import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from canaries import CANARIES, new_key, turns
from engramdb import (
    DecryptionError,
    EncryptionKey,
    InvalidInputError,
    Memory,
    Settings,
    StoreError,
)
from engramdb.embed import Embedder
from engramdb.security import store_files, where_found
from engramdb.security.crypto import generate_key


def _memory(path: Path, embedder: Embedder, key: EncryptionKey | None, **kw: Any) -> Memory:
    settings = Settings(encryption=key, consolidation_batch=4, **kw)
    return Memory(str(path), embedder=embedder, settings=settings)


def _fill(mem: Memory) -> str:
    added = mem.add_many(turns(), namespace="private")
    mem.update(added[1].id, namespace="private", text="What do you do in Quillfenwick?")
    mem.consolidate(namespace="private")
    mem.search("Where does Maya work?", namespace="private")  # reinforcement writes
    # a filtered search reads the filter index (docs/filters.md): keyed tokens only
    assert mem.search("Where?", namespace="private", where={"speaker": "Maya Zorbaxqy",
                      "metadata.note": {"$in": ["Snorkelbrand"]}})  # fmt: skip
    mem.add("Tom likes chess.", namespace="other")
    # the pinned profile is content too (docs/profile.md): its key and text are sealed
    mem.pin("Snorkelbrand", "Maya Zorbaxqy, from Quillfenwick", namespace="private")
    mem.pin("Snorkelbrand", "Maya Zorbaxqy, from Vexmortain", namespace="private")
    return added[2].id


def _digest(files: list[Path]) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


@pytest.fixture
def key() -> EncryptionKey:
    return new_key()


@pytest.fixture
def sealed(tmp_path: Path, embedder: Embedder, key: EncryptionKey) -> Path:
    """An encrypted store with memories, versions, facts and summaries, closed."""
    with _memory(tmp_path / "store", embedder, key) as mem:
        assert mem.encrypted
        _fill(mem)
        assert {e.get("kind") for e in mem.export(namespace="private")} >= {"episode", "fact"}
    return tmp_path / "store"


def test_a_plaintext_store_shows_the_canaries(tmp_path: Path, embedder: Embedder) -> None:
    # the control: the scan below can fail
    with _memory(tmp_path / "plain", embedder, None) as mem:
        _fill(mem)
    assert where_found(store_files(tmp_path / "plain"), CANARIES)


def test_no_canary_byte_in_any_file_of_an_encrypted_store(sealed: Path) -> None:
    files = store_files(sealed)
    assert [f.name for f in files if f.suffix == ".db"] == ["engram.db"]
    assert where_found(files, CANARIES) == []
    # nor any stemmed or lower-cased word of them in the lexical index
    assert where_found(files, ["quillfenwick", "nurse", "adopted", "sushi"]) == []


def test_an_open_encrypted_store_has_no_plaintext_in_its_wal_either(
    tmp_path: Path, embedder: Embedder, key: EncryptionKey
) -> None:
    with _memory(tmp_path / "store", embedder, key) as mem:
        _fill(mem)
        files = store_files(tmp_path / "store")
        assert any(f.name.endswith("-wal") for f in files)
        assert where_found(files, CANARIES) == []


def test_everything_reads_back_with_the_key(
    sealed: Path, embedder: Embedder, key: EncryptionKey
) -> None:
    with _memory(sealed, embedder, key) as mem:
        hits = mem.search("Where does Maya work?", namespace="private", limit=3)
        assert "Plumtrazzle" in hits[0].engram.text
        assert hits[0].engram.speaker == "Maya Zorbaxqy"
        assert hits[0].engram.metadata == {"note": "Snorkelbrand"}
        history = mem.history(
            next(h.engram.id for h in mem.search("what do you do", namespace="private")
                 if h.engram.version == 2),
            namespace="private",
        )  # fmt: skip
        assert [v.text for v in history] == [
            "Nice! What do you do there?",
            "What do you do in Quillfenwick?",
        ]
        facts = mem.facts(namespace="private")
        assert facts
        assert any("Plumtrazzle" in f.value or "Vexmortain" in f.value for f in facts)
        one = facts[0]
        assert mem.facts(namespace="private", subject=one.subject, attribute=one.attribute)
        assert mem.facts(namespace="private", subject="nobody") == []
        assert mem.store.lexical_search("private", ["Plumtrazzle labs"], 5)
        assert mem.store.lexical_search("private", ["labs plumtrazzle"], 5) == []  # a phrase
        assert [(e.key, e.text) for e in mem.profile(namespace="private", history=True)] == [
            ("Snorkelbrand", "Maya Zorbaxqy, from Quillfenwick"),
            ("Snorkelbrand", "Maya Zorbaxqy, from Vexmortain"),
        ]
        bundle = mem.context("Where does Maya live?", namespace="private")
        assert bundle.items[0].text == "Snorkelbrand: Maya Zorbaxqy, from Vexmortain"
        assert mem.check() == []


def test_search_ranks_the_same_as_plaintext(
    tmp_path: Path, embedder: Embedder, key: EncryptionKey
) -> None:
    rankings = []
    for where, k in (("plain", None), ("sealed", key)):
        with _memory(tmp_path / where, embedder, k) as mem:
            mem.add_many(turns(), namespace="private")
            rankings.append(
                [
                    [h.engram.text for h in mem.search(q, namespace="private", reinforce=False)]
                    for q in ("Where does Maya work?", "the dog", "moved", "good life")
                ]
            )
    assert rankings[0] == rankings[1]


def test_no_key_or_a_wrong_key_is_refused_and_changes_nothing(
    sealed: Path, embedder: Embedder, key: EncryptionKey
) -> None:
    before = _digest(store_files(sealed))
    with pytest.raises(DecryptionError, match="encrypted"):
        _memory(sealed, embedder, None)
    with pytest.raises(DecryptionError, match="wrong master key"):
        _memory(sealed, embedder, new_key())
    with pytest.raises(DecryptionError, match="passphrase"):
        _memory(sealed, embedder, EncryptionKey.from_passphrase("correct horse battery"))
    assert _digest(store_files(sealed)) == before
    with _memory(sealed, embedder, key) as mem:
        assert mem.stats(namespace="private").engrams >= 5


def test_a_plaintext_store_refuses_a_key_and_points_to_encrypt_in_place(
    tmp_path: Path, embedder: Embedder
) -> None:
    with _memory(tmp_path / "plain", embedder, None) as mem:
        mem.add("plain text", namespace="a")
    with pytest.raises(StoreError, match="not encrypted") as refused:
        _memory(tmp_path / "plain", embedder, new_key())
    assert "encrypt-store" in str(refused.value)
    assert "export" not in str(refused.value)  # the old advice: export, then import


def _tamper(store: Path, sql: str, *args: Any) -> None:
    conn = sqlite3.connect(store / "engram.db")
    with conn:
        conn.execute(sql, args)
    conn.close()


def _sealed_text(store: Path, engram_id: str) -> bytes:
    conn = sqlite3.connect(store / "engram.db")
    try:
        return bytes(
            conn.execute("SELECT text FROM engrams WHERE id = ?", (engram_id,)).fetchone()[0]
        )
    finally:
        conn.close()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[: len(b) // 2], id="truncated"),
        pytest.param(lambda b: b[:-1] + bytes([b[-1] ^ 0x01]), id="flipped-tag-bit"),
        pytest.param(lambda b: b[:20] + bytes([b[20] ^ 0x80]) + b[21:], id="flipped-body-bit"),
        pytest.param(lambda b: b"", id="emptied"),
        pytest.param(lambda b: "plain text instead", id="plaintext"),
    ],
)
def test_altered_ciphertext_raises_and_leaves_the_rest_intact(
    tmp_path: Path, embedder: Embedder, key: EncryptionKey, damage: Any
) -> None:
    store = tmp_path / "store"
    with _memory(store, embedder, key) as mem:
        ids = [e.id for e in mem.add_many(turns(), namespace="private")]
    _tamper(
        store,
        "UPDATE engrams SET text = ? WHERE id = ?",
        damage(_sealed_text(store, ids[2])),
        ids[2],
    )
    before = _digest(store_files(store))
    with _memory(store, embedder, key) as mem:
        with pytest.raises(DecryptionError, match=ids[2]):
            mem.get(ids[2], namespace="private")
        with pytest.raises(DecryptionError):
            mem.search("Where does Maya work?", namespace="private")
        assert mem.get(ids[0], namespace="private").text.startswith("I moved to")
        assert mem.check() == [
            "engrams: 1 row does not match its checksum (row 3)",  # a MAC over it as stored
            "engrams: 1 values fail to decrypt",
        ]
    assert _digest([f for f in store_files(store) if f.suffix == ".db"]) == {
        k: v for k, v in before.items() if k.endswith(".db")
    }


def test_a_ciphertext_moved_to_another_row_does_not_open(
    tmp_path: Path, embedder: Embedder, key: EncryptionKey
) -> None:
    store = tmp_path / "store"
    with _memory(store, embedder, key) as mem:
        ids = [e.id for e in mem.add_many(turns(), namespace="private")]
    _tamper(store, "UPDATE engrams SET text = ? WHERE id = ?", _sealed_text(store, ids[0]), ids[1])
    with (
        _memory(store, embedder, key) as mem,
        pytest.raises(DecryptionError, match="does not authenticate"),
    ):
        mem.get(ids[1], namespace="private")


def test_an_altered_vector_or_data_key_raises(
    tmp_path: Path, embedder: Embedder, key: EncryptionKey
) -> None:
    store = tmp_path / "store"
    with _memory(store, embedder, key) as mem:
        mem.add_many(turns(), namespace="private")
    _tamper(store, "UPDATE vectors SET data = substr(data, 1, 100) WHERE engram_rowid = 1")
    with _memory(store, embedder, key) as mem, pytest.raises(DecryptionError):
        mem.search("dog", namespace="private")
    _tamper(store, "UPDATE namespace_keys SET wrapped = zeroblob(60)")
    with _memory(store, embedder, key) as mem, pytest.raises(DecryptionError, match="data key"):
        mem.search("dog", namespace="private")


def test_rotation_rewraps_keys_without_touching_content(
    sealed: Path, embedder: Embedder, key: EncryptionKey
) -> None:
    conn = sqlite3.connect(sealed / "engram.db")
    content_before = conn.execute("SELECT id, text, metadata FROM engrams ORDER BY id").fetchall()
    conn.close()
    new = EncryptionKey.from_passphrase("a long passphrase for the store")
    with _memory(sealed, embedder, key) as mem:
        assert mem.rotate_master_key(new) == 2  # namespaces "private" and "other"
        assert mem.add("still writable after rotation", namespace="third").text
    conn = sqlite3.connect(sealed / "engram.db")
    content_after = conn.execute(
        "SELECT id, text, metadata FROM engrams WHERE namespace != 'third' ORDER BY id"
    ).fetchall()
    conn.close()
    assert content_after == content_before
    with pytest.raises(DecryptionError):
        _memory(sealed, embedder, key)
    with _memory(sealed, embedder, new) as mem:
        assert mem.check() == []
        assert mem.get(mem.search("chess", namespace="other")[0].engram.id, namespace="other")
        assert [e["text"] for e in mem.export(namespace="third")] == [
            "still writable after rotation"
        ]


def test_a_process_with_the_old_key_cannot_make_new_namespace_keys(
    tmp_path: Path, embedder: Embedder, key: EncryptionKey
) -> None:
    store = tmp_path / "store"
    with _memory(store, embedder, key) as old, _memory(store, embedder, key) as rotator:
        old.add("before", namespace="a")
        rotator.rotate_master_key(new_key())
        assert old.add("a namespace it knows still works", namespace="a").text
        with pytest.raises(DecryptionError, match="rotated"):
            old.add("a new namespace needs a key wrapped by the new master", namespace="b")


def test_forgetting_a_namespace_destroys_its_data_key(
    sealed: Path, embedder: Embedder, key: EncryptionKey
) -> None:
    with _memory(sealed, embedder, key) as mem:
        mem.forget_namespace("private")
        mem.add("a fresh start", namespace="private")
    conn = sqlite3.connect(sealed / "engram.db")
    try:
        keys = conn.execute("SELECT namespace, COUNT(*) FROM namespace_keys GROUP BY 1").fetchall()
    finally:
        conn.close()
    assert sorted(keys) == [("other", 1), ("private", 1)]


def test_vectors_can_stay_plain_when_asked(
    tmp_path: Path, embedder: Embedder, key: EncryptionKey
) -> None:
    store = tmp_path / "store"
    with _memory(store, embedder, key, encrypt_vectors=False) as mem:
        mem.add_many(turns(), namespace="private")
    conn = sqlite3.connect(store / "engram.db")
    sizes = {n for (n,) in conn.execute("SELECT length(data) - dims FROM vectors")}
    conn.close()
    assert sizes == {0}
    assert where_found(store_files(store), CANARIES) == []
    with _memory(store, embedder, key) as mem:  # the store's choice is recorded
        assert mem.search("dog", namespace="private")[0].engram.text.endswith("Vexmortain.")
        assert mem.check() == []


def test_a_passphrase_store(tmp_path: Path, embedder: Embedder) -> None:
    phrase = EncryptionKey.from_passphrase("correct horse battery staple")
    with _memory(tmp_path / "s", embedder, phrase) as mem:
        mem.add("secret Zorbaxqy", namespace="a")
    with pytest.raises(DecryptionError, match="wrong master key"):
        _memory(tmp_path / "s", embedder, EncryptionKey.from_passphrase("wrong horse battery"))
    with _memory(tmp_path / "s", embedder, phrase) as mem:
        assert [e["text"] for e in mem.export(namespace="a")] == ["secret Zorbaxqy"]
    assert where_found(store_files(tmp_path / "s"), CANARIES) == []


def test_key_files_and_key_text_are_checked(tmp_path: Path, embedder: Embedder) -> None:
    loose = tmp_path / "loose.key"
    loose.write_text(generate_key())
    loose.chmod(0o644)
    with pytest.raises(InvalidInputError, match="chmod 600"):
        _memory(tmp_path / "a", embedder, EncryptionKey.from_file(loose))
    tight = tmp_path / "tight.key"
    tight.write_text(generate_key() + "\n")
    tight.chmod(0o600)
    with _memory(tmp_path / "b", embedder, EncryptionKey.from_file(tight)) as mem:
        mem.add("kept", namespace="a")
    # the same bytes as text open the store created from the file
    with _memory(tmp_path / "b", embedder, EncryptionKey.from_text(tight.read_text())) as mem:
        assert mem.stats(namespace="a").engrams == 1
    with pytest.raises(InvalidInputError, match="not a master key"):
        _memory(tmp_path / "c", embedder, EncryptionKey.from_text("too-short"))
    with pytest.raises(InvalidInputError, match="no key file"):
        _memory(tmp_path / "d", embedder, EncryptionKey.from_file(tmp_path / "missing.key"))
    assert not (tmp_path / "c").exists()  # a malformed key creates nothing


def test_settings_read_one_key_from_the_environment(tmp_path: Path) -> None:
    key = generate_key()
    assert Settings.from_env({"ENGRAMDB_MASTER_KEY": key}).encryption == EncryptionKey("key", key)
    assert Settings.from_env({}).encryption is None
    assert Settings.from_env({"ENGRAMDB_ENCRYPT_VECTORS": "off"}).encrypt_vectors is False
    with pytest.raises(ValueError, match="only one"):
        Settings.from_env({"ENGRAMDB_MASTER_KEY": key, "ENGRAMDB_PASSPHRASE": "x" * 12})
    assert key not in repr(Settings.from_env({"ENGRAMDB_MASTER_KEY": key}))


def test_backup_of_an_encrypted_store_is_encrypted_and_needs_the_key(
    sealed: Path, tmp_path: Path, embedder: Embedder, key: EncryptionKey
) -> None:
    with _memory(sealed, embedder, key) as mem:
        copy = mem.backup(tmp_path / "backup.db")
    assert where_found([copy], CANARIES) == []
    with (
        _memory(tmp_path / "restored", embedder, new_key()) as other,
        pytest.raises(DecryptionError),
    ):
        other.restore_backup(copy)
    with _memory(tmp_path / "restored2", embedder, key) as mem:
        assert mem.restore_backup(copy) >= 6
        assert mem.search("Where does Maya work?", namespace="private")


def test_a_plaintext_store_is_encrypted_by_export_and_import(
    tmp_path: Path, embedder: Embedder, key: EncryptionKey
) -> None:
    with _memory(tmp_path / "plain", embedder, None) as plain:
        _fill(plain)
        records = list(plain.export())
    with _memory(tmp_path / "sealed", embedder, key) as mem:
        assert mem.import_records(records) == len(records)
        assert list(mem.export()) == records
    assert where_found(store_files(tmp_path / "sealed"), CANARIES) == []


def _write_from_another_process(store: str, key_text: str, worker: int) -> int:
    from engramdb.testing.fakes import HashEmbedder

    key = EncryptionKey.from_text(key_text)
    with Memory(store, embedder=HashEmbedder(), settings=Settings(encryption=key)) as mem:
        for i in range(15):  # every worker races to make the same namespaces' keys
            mem.add(f"worker {worker} note {i}", namespace=f"ns-{i % 3}")
    return 15


def test_processes_racing_to_make_namespace_keys_agree(tmp_path: Path) -> None:
    key_text = generate_key()
    store = str(tmp_path / "store")
    with Memory(store, settings=Settings(encryption=EncryptionKey.from_text(key_text))) as mem:
        assert mem.encrypted  # created encrypted before the workers start
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=4, mp_context=context) as pool:
        written = sum(pool.map(_write_from_another_process, [store] * 4, [key_text] * 4, range(4)))
    key = EncryptionKey.from_text(key_text)
    with Memory(store, settings=Settings(encryption=key)) as mem:
        assert sum(mem.stats(namespace=f"ns-{n}").engrams for n in range(3)) == written == 60
        assert mem.check() == []
        assert len(list(mem.export())) == 60


def test_a_plaintext_store_is_encrypted_in_place(
    tmp_path: Path, embedder: Embedder, key: EncryptionKey
) -> None:
    store = tmp_path / "store"
    with _memory(store, embedder, None) as mem:
        _fill(mem)
        mem.flush()  # the recalls of _fill's search, written now rather than at close
        before = list(mem.export())
        facts = mem.facts(namespace="private")
        assert facts
        stale = _memory(store, embedder, None)  # another user of the store, still plaintext
        assert mem.encrypt(key) == sum("profile_entry" not in r for r in before)
        assert [r for r in before if "profile_entry" in r], "no profile to seal"
        assert mem.encrypted
        assert list(mem.export()) == before
        assert mem.facts(namespace="private") == facts
        hits = mem.search("Where does Maya work?", namespace="private", reinforce=False)
        assert hits[0].engram.text == ("I work at Plumtrazzle Labs as a nurse.")
        assert mem.check() == []
        with pytest.raises(StoreError, match="already encrypted"):
            mem.encrypt(new_key())
    with pytest.raises(StoreError, match="encrypted since it was opened"):
        stale.add("a plaintext write after the encryption", namespace="private")
    with pytest.raises(DecryptionError):
        stale.get(before[0]["id"], namespace=before[0]["namespace"])
    stale.close()
    assert where_found(store_files(store), CANARIES) == []
    with pytest.raises(DecryptionError, match="encrypted"):
        _memory(store, embedder, None)
    with _memory(store, embedder, key) as mem:
        assert list(mem.export()) == before
        assert mem.store.lexical_search("private", ["Plumtrazzle"], 5)


def test_an_altered_profile_entry_raises_and_check_counts_it(
    tmp_path: Path, embedder: Embedder, key: EncryptionKey
) -> None:
    store = tmp_path / "store"
    with _memory(store, embedder, key) as mem:
        mem.pin("name", "Maya Zorbaxqy", namespace="private")
        mem.pin("diet", "vegetarian", namespace="private")
    conn = sqlite3.connect(store / "engram.db")
    try:
        rows = conn.execute("SELECT tag, text FROM profile_entries ORDER BY tag").fetchall()
    finally:
        conn.close()
    assert all(b"Zorbaxqy" not in bytes(text) for _, text in rows)
    # one entry's sealed text moved onto the other's row: it no longer opens there
    _tamper(store, "UPDATE profile_entries SET text = ? WHERE tag = ?", rows[0][1], rows[1][0])
    with _memory(store, embedder, key) as mem:
        with pytest.raises(DecryptionError):
            mem.profile(namespace="private")
        assert mem.check() == [
            f"profile_entries: 1 row does not match its checksum (row private/{rows[1][0]}/1)",
            "profile_entries: 1 values fail to decrypt",
        ]

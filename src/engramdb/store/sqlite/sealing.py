"""The keys of an encrypted SQLite store, and which cipher a namespace gets (docs/security.md).

Owns the ``crypto`` row and the ``namespace_keys`` table (migration 4): turning
encryption on for a new store, checking the master key when a store opens, a
data key per namespace (made inside the transaction that writes the
namespace's first memory, so a rollback leaves none behind), erasing it with
the namespace, and re-wrapping every data key under a new master key. Also
the two passes over every sealed column: sealing a plaintext store in place,
and finding values that no longer open. The store asks it for a cipher per
namespace and seals or opens values with it; what a value's sealed form is
lives in ``engramdb.store.codec``, the cryptography in
``engramdb.security.crypto``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from engramdb.bounded import Bounded
from engramdb.clock import to_iso
from engramdb.config import EncryptionKey
from engramdb.errors import DecryptionError, IntegrityError, StoreError
from engramdb.security.crypto import (
    PLAIN,
    Cipher,
    MasterKey,
    NamespaceCipher,
    master_key,
    new_params,
)
from engramdb.store.codec import seal_emotion, seal_optional
from engramdb.store.sqlite import checksums, identities, learning, lexical, profile
from engramdb.store.sqlite.consolidation import fact_key

if TYPE_CHECKING:
    from engramdb.store.sqlite.database import Database

__all__ = ["CACHED_CIPHERS", "DataKeys", "seal_store", "unopenable"]

#: The namespaces whose unwrapped data keys (and opened values) one open store keeps,
#: most recently used first (docs/limits.md, "Caches").
CACHED_CIPHERS = 64

SCHEME = "aes-256-gcm/hkdf-sha256/hmac-blind-v1"
_KEY_ID_BYTES = 16


class _NoKey:
    """The cipher of a namespace that has no data key: nothing to open, nothing matches."""

    encrypted = True

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    def _missing(self) -> DecryptionError:
        return DecryptionError(f"namespace {self.namespace!r} has no data key in this store")

    def seal(self, value: str, aad: str) -> bytes:
        raise self._missing()

    def open(self, value: object, aad: str) -> str:
        raise self._missing()

    def seal_bytes(self, value: bytes, aad: str) -> bytes:
        raise self._missing()

    def open_bytes(self, value: object, aad: str) -> bytes:
        raise self._missing()

    def blind(self, text: str) -> str:
        return ""

    def blind_terms(self, terms: list[str]) -> list[str]:
        return []

    def tag(self, value: str) -> str:
        return ""  # no memory was ever tagged without a key: matches nothing

    def checksum(self, data: bytes) -> bytes:
        raise self._missing()


class DataKeys:
    """The encryption state of one open store: plaintext, or a verified master key."""

    def __init__(self, source: EncryptionKey | None, *, encrypt_vectors: bool) -> None:
        self.source = source
        self.encrypt_vectors = encrypt_vectors
        self.encrypted = False
        self.vectors_sealed = False
        self._master: MasterKey | None = None
        # Each cipher remembers what it opened (security/crypto.py): a bounded number of
        # namespaces' (docs/limits.md, "Caches"); an evicted one is unwrapped again.
        self._ciphers: Bounded[tuple[str, bytes], NamespaceCipher] = Bounded(CACHED_CIPHERS)

    def open(self, db: Database) -> None:
        """Check the master key of an encrypted store as it opens, or make a new,
        empty store encrypted when a key was given."""
        with db.read() as conn:
            recorded = self.recorded(conn)
        if recorded is None and self.source is not None and not db.read_only:
            with db.transaction() as conn:
                recorded = self.recorded(conn)  # another process may have just done it
                empty = conn.execute("SELECT 1 FROM engrams LIMIT 1").fetchone() is None
                if recorded is None and empty:
                    self.initialise(conn, datetime.now().astimezone())
                    return
        self.attach(recorded, db.path)

    @staticmethod
    def recorded(conn: sqlite3.Connection) -> sqlite3.Row | None:
        row: sqlite3.Row | None = conn.execute(
            "SELECT params, verifier, vectors_sealed FROM crypto WHERE id = 1"
        ).fetchone()
        return row

    def attach(self, row: sqlite3.Row | None, path: str) -> None:
        """Adopt the store's recorded state; an encrypted store needs the right key."""
        if row is None:
            if self.source is not None:
                raise StoreError(
                    f"the store at {path} is not encrypted, but a master key is configured: "
                    "to encrypt it in place, open it without the key and run `engram keys "
                    "encrypt-store --new-key-file FILE` (Memory.encrypt in Python; "
                    "docs/security.md)"
                )
            return
        if self.source is None:
            raise DecryptionError(
                f"the store at {path} is encrypted: set ENGRAMDB_MASTER_KEY, "
                "ENGRAMDB_MASTER_KEY_FILE or ENGRAMDB_PASSPHRASE (Settings.encryption)"
            )
        master = master_key(self.source, json.loads(row["params"]))
        master.verify(bytes(row["verifier"]))
        self._master = master
        self._ciphers.clear()
        self.encrypted = True
        self.vectors_sealed = bool(row["vectors_sealed"])

    def initialise(self, conn: sqlite3.Connection, now: datetime) -> None:
        """Make a new, empty store encrypted (inside the caller's write transaction)."""
        assert self.source is not None
        params = new_params(self.source)
        master = master_key(self.source, params)
        conn.execute(
            "INSERT INTO crypto (id, scheme, params, verifier, vectors_sealed, created_at) "
            "VALUES (1, ?, ?, ?, ?, ?)",
            (SCHEME, json.dumps(params), master.verifier(), int(self.encrypt_vectors), to_iso(now)),
        )
        self._master = master
        self.encrypted = True
        self.vectors_sealed = self.encrypt_vectors

    def cipher(self, conn: sqlite3.Connection, namespace: str, *, create: bool = False) -> Cipher:
        """The namespace's cipher; ``create`` makes its data key when it has none.

        The key row is read on every call (one primary-key lookup): another
        process may have forgotten the namespace and made a new key since.
        """
        if not self.encrypted:
            if create and self.recorded(conn) is not None:
                # encrypted in place by another process since this one opened it
                raise StoreError(
                    "the store was encrypted since it was opened: reopen it with its master key"
                )
            return PLAIN
        assert self._master is not None
        row = conn.execute(
            "SELECT key_id, wrapped FROM namespace_keys WHERE namespace = ?", (namespace,)
        ).fetchone()
        if row is None:
            if not create:
                return _NoKey(namespace)
            self._check_master(conn)
            key_id, data_key = os.urandom(_KEY_ID_BYTES), os.urandom(32)
            conn.execute(
                "INSERT INTO namespace_keys (namespace, key_id, wrapped, created_at) "
                "VALUES (?, ?, ?, datetime('now'))",
                (namespace, key_id, self._master.wrap(data_key, namespace, key_id)),
            )
        else:
            key_id = bytes(row[0])
            cached = self._ciphers.get((namespace, key_id))
            if cached is not None:
                return cached
            data_key = self._master.unwrap(bytes(row[1]), namespace, key_id)
        cipher = NamespaceCipher(data_key)
        self._ciphers[(namespace, key_id)] = cipher
        return cipher

    def ciphers(self, conn: sqlite3.Connection, *, create: bool = False) -> Callable[[str], Cipher]:
        """``cipher`` for many namespaces within one transaction: each looked up once."""
        found: dict[str, Cipher] = {}

        def cipher_of(namespace: str) -> Cipher:
            if namespace not in found:
                found[namespace] = self.cipher(conn, namespace, create=create)
            return found[namespace]

        return cipher_of

    def forget_opened(self, namespace: str) -> None:
        """Drop the plaintext the namespace's ciphers remember (after an erasure)."""
        for (name, _), cipher in self._ciphers.items():
            if name == namespace:
                cipher.forget_opened()

    def forget(self, conn: sqlite3.Connection, namespace: str) -> None:
        """Destroy the namespace's data key with its rows (inside the caller's transaction)."""
        conn.execute("DELETE FROM namespace_keys WHERE namespace = ?", (namespace,))
        for key in [k for k in self._ciphers if k[0] == namespace]:
            del self._ciphers[key]

    def rotate(self, conn: sqlite3.Connection, new: EncryptionKey, now: datetime) -> int:
        """Re-wrap every data key under ``new`` (inside the caller's transaction).

        Content is not touched. Returns the number of data keys re-wrapped.
        """
        if not self.encrypted or self._master is None:
            raise StoreError("the store is not encrypted: there is no master key to rotate")
        self._check_master(conn)
        params = new_params(new)
        fresh = master_key(new, params)
        rows = conn.execute("SELECT namespace, key_id, wrapped FROM namespace_keys").fetchall()
        for namespace, key_id, wrapped in rows:
            data_key = self._master.unwrap(bytes(wrapped), namespace, bytes(key_id))
            conn.execute(
                "UPDATE namespace_keys SET wrapped = ? WHERE namespace = ?",
                (fresh.wrap(data_key, namespace, bytes(key_id)), namespace),
            )
        conn.execute(
            "UPDATE crypto SET params = ?, verifier = ?, rotated_at = ? WHERE id = 1",
            (json.dumps(params), fresh.verifier(), to_iso(now)),
        )
        self._master, self.source = fresh, new
        return len(rows)

    def _check_master(self, conn: sqlite3.Connection) -> None:
        """Refuse to wrap a new data key with a master key that was rotated away."""
        assert self._master is not None
        row = self.recorded(conn)
        try:
            if row is None:
                raise DecryptionError("the store's encryption record is gone")
            self._master.verify(bytes(row["verifier"]))
        except DecryptionError:
            raise DecryptionError(
                "the store's master key changed since it was opened (rotated by another "
                "process?): reopen it with the current key"
            ) from None


def seal_store(conn: sqlite3.Connection, keys: DataKeys) -> int:
    """Seal every value of a plaintext store with ``keys`` (inside the caller's
    transaction) and rebuild the lexical index blind; the number of memories.

    The rows' checksums are checked first (a damaged row is refused, not sealed
    as it is) and written anew after, as MACs under the new data keys."""
    damaged = checksums.mismatched(conn, lambda _: PLAIN, encrypted=False)
    if damaged:
        raise IntegrityError(
            "the store has damaged rows, nothing was encrypted: " + "; ".join(damaged)
        )
    cipher = keys.ciphers(conn, create=True)
    rows = conn.execute(
        "SELECT rowid, id, namespace, text, keys, metadata, speaker, analysis FROM engrams"
    ).fetchall()
    for rowid, eid, ns, text, index_keys, metadata, speaker, analysis in rows:
        c = cipher(ns)
        conn.execute(
            "UPDATE engrams SET text = ?, keys = ?, metadata = ?, speaker = ?, analysis = ? "
            "WHERE rowid = ?",
            (
                c.seal(text, f"engrams.text:{eid}"),
                c.seal(index_keys, f"engrams.keys:{eid}"),
                c.seal(metadata, f"engrams.metadata:{eid}"),
                seal_optional(c, speaker, f"engrams.speaker:{eid}"),
                seal_optional(c, analysis, f"engrams.analysis:{eid}"),
                rowid,
            ),
        )
    # the filter index held plain values: it is rebuilt as keyed tokens when next read
    conn.execute("DELETE FROM fields")
    conn.execute("INSERT OR IGNORE INTO fields_pending SELECT DISTINCT namespace FROM engrams")
    identities.seal(conn, cipher)  # plain digests become keyed tags, keys and counts kept
    learning.seal(conn, cipher)
    profile.seal(conn, cipher)  # pinned entries are content: sealed like a memory's text
    for rowid, version, eid, ns, text, speaker, metadata in conn.execute(
        "SELECT v.engram_rowid, v.version, e.id, e.namespace, v.text, v.speaker, v.metadata "
        "FROM versions v JOIN engrams e ON e.rowid = v.engram_rowid"
    ).fetchall():
        c, aad = cipher(ns), f"{eid}:{version}"
        conn.execute(
            "UPDATE versions SET text = ?, speaker = ?, metadata = ? "
            "WHERE engram_rowid = ? AND version = ?",
            (
                c.seal(text, f"versions.text:{aad}"),
                seal_optional(c, speaker, f"versions.speaker:{aad}"),
                c.seal(metadata, f"versions.metadata:{aad}"),
                rowid,
                version,
            ),
        )
    for rowid, eid, ns, subject, attribute, value in conn.execute(
        "SELECT f.engram_rowid, e.id, e.namespace, f.subject, f.attribute, f.value "
        "FROM facts f JOIN engrams e ON e.rowid = f.engram_rowid"
    ).fetchall():
        c = cipher(ns)
        conn.execute(
            "UPDATE facts SET subject = ?, attribute = ?, value = ?, lookup = ? "
            "WHERE engram_rowid = ?",
            (
                c.seal(subject, f"facts.subject:{eid}"),
                c.seal(attribute, f"facts.attribute:{eid}"),
                c.seal(value, f"facts.value:{eid}"),
                c.tag(fact_key(subject, attribute)),  # the keyed token, no longer plain
                rowid,
            ),
        )
    for rowid, eid, ns, valence, arousal, emotion in conn.execute(
        "SELECT d.engram_rowid, e.id, e.namespace, d.valence, d.arousal, d.emotion "
        "FROM dynamics d JOIN engrams e ON e.rowid = d.engram_rowid"
    ).fetchall():
        conn.execute(
            "UPDATE dynamics SET valence = ?, arousal = ?, emotion = ? WHERE engram_rowid = ?",
            (*seal_emotion(cipher(ns), eid, float(valence), float(arousal), emotion), rowid),
        )
    if keys.vectors_sealed:
        for rowid, eid, ns, data in conn.execute(
            "SELECT v.engram_rowid, e.id, e.namespace, v.data "
            "FROM vectors v JOIN engrams e ON e.rowid = v.engram_rowid"
        ).fetchall():
            conn.execute(
                "UPDATE vectors SET data = ? WHERE engram_rowid = ?",
                (cipher(ns).seal_bytes(bytes(data), f"vectors:{eid}"), rowid),
            )
    conn.execute("DELETE FROM engram_fts")
    lexical.refill(conn, ((r[0], r[2], r[3], r[4]) for r in rows), cipher)
    checksums.rewrite_all(conn, cipher)
    return len(rows)


def unopenable(conn: sqlite3.Connection, keys: DataKeys) -> list[str]:
    """Per table, how many sealed values of an encrypted store fail to open (a
    flipped bit anywhere shows); empty when all open."""
    failed: dict[str, int] = {}
    cipher_of = keys.ciphers(conn)
    columns = ("text", "keys", "metadata", "speaker", "analysis")
    for table, sql in (
        (
            "engrams",
            "SELECT namespace, id, '', text, keys, metadata, speaker, analysis FROM engrams",
        ),
        (
            "versions",
            "SELECT e.namespace, e.id, ':' || v.version, v.text, NULL, v.metadata, v.speaker, "
            "NULL FROM versions v JOIN engrams e ON e.rowid = v.engram_rowid",
        ),
    ):
        for ns, eid, tail, *values in conn.execute(sql):
            cipher = cipher_of(ns)
            for column, value in zip(columns, values, strict=True):
                if value is None and column in ("keys", "speaker", "analysis"):
                    continue
                try:
                    cipher.open(value, f"{table}.{column}:{eid}{tail}")
                except DecryptionError:
                    failed[table] = failed.get(table, 0) + 1
    for row in conn.execute(
        "SELECT e.namespace, e.id, f.subject, f.attribute, f.value FROM facts f "
        "JOIN engrams e ON e.rowid = f.engram_rowid"
    ):
        cipher = cipher_of(row[0])
        for column, value in zip(("subject", "attribute", "value"), row[2:], strict=True):
            try:
                cipher.open(value, f"facts.{column}:{row[1]}")
            except DecryptionError:
                failed["facts"] = failed.get("facts", 0) + 1
    for row in conn.execute(
        "SELECT e.namespace, e.id, v.data, d.emotion FROM engrams e "
        "LEFT JOIN vectors v ON v.engram_rowid = e.rowid "
        "LEFT JOIN dynamics d ON d.engram_rowid = e.rowid"
    ):
        cipher = cipher_of(row[0])
        checks = [("dynamics", row[3], f"dynamics.emotion:{row[1]}")]
        if keys.vectors_sealed:
            checks.append(("vectors", row[2], f"vectors:{row[1]}"))
        for table, value, aad in checks:
            if value is None:
                continue
            try:
                cipher.open_bytes(value, aad)
            except DecryptionError:
                failed[table] = failed.get(table, 0) + 1
    failed_entries = profile.unopenable(conn, cipher_of)
    if failed_entries:
        failed["profile_entries"] = failed_entries
    return [f"{table}: {n} values fail to decrypt" for table, n in sorted(failed.items())]

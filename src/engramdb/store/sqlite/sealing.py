"""The keys of an encrypted SQLite store, and which cipher a namespace gets (docs/security.md).

Owns the ``crypto`` row and the ``namespace_keys`` table (migration 4): turning
encryption on for a new store, checking the master key when a store opens, a
data key per namespace (made inside the transaction that writes the
namespace's first memory, so a rollback leaves none behind), erasing it with
the namespace, and re-wrapping every data key under a new master key. The
store asks it for a cipher per namespace and seals or opens values with it;
the cryptography itself is ``engramdb.security.crypto``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from datetime import datetime

from engramdb.clock import to_iso
from engramdb.config import EncryptionKey
from engramdb.errors import DecryptionError, StoreError
from engramdb.security.crypto import (
    PLAIN,
    Cipher,
    MasterKey,
    NamespaceCipher,
    master_key,
    new_params,
)

__all__ = ["DataKeys"]

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


class DataKeys:
    """The encryption state of one open store: plaintext, or a verified master key."""

    def __init__(self, source: EncryptionKey | None, *, encrypt_vectors: bool) -> None:
        self.source = source
        self.encrypt_vectors = encrypt_vectors
        self.encrypted = False
        self.vectors_sealed = False
        self._master: MasterKey | None = None
        self._ciphers: dict[tuple[str, bytes], NamespaceCipher] = {}

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

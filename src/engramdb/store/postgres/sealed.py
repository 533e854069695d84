"""Encryption at rest on a PostgresStore (docs/security.md, docs/postgres.md): its keys,
and the stored form of a sealed value.

Owns the SQL of the ``crypto`` row and the ``namespace_keys`` table (migration
9) that ``security.datakeys`` asks of a backend, and ``Armoured``: a
namespace's cipher as the text columns of this store need it. The key
hierarchy, the ciphers and what a value's associated data is are shared with
the SQLite store (``security.datakeys``, ``security.crypto``,
``store.codec``); so a value sealed here names the same table, column,
memory and version as there.

Why base64 text and not ``bytea``: the columns a value is sealed in (a
memory's text, speaker, metadata, index keys, emotion; a version's; a fact's)
hold text in a plaintext store, and one column serves both, so a sealed value
is its ciphertext as base64 in the same column (a third larger). A vector is
bytes either way: sealed, it goes to ``sealed_vector`` (``bytea``), never to
``embedding``, the column pgvector reads.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from engramdb.config import EncryptionKey
from engramdb.errors import DecryptionError
from engramdb.security import datakeys
from engramdb.security.crypto import Cipher
from engramdb.store.keytable import SqlKeyTable
from engramdb.store.postgres.database import Connection

if TYPE_CHECKING:
    from engramdb.store.postgres.database import Database

__all__ = ["Armoured", "DataKeys", "open_vector", "seal_vector"]


class _PostgresKeys(SqlKeyTable):
    """The ``crypto`` row and ``namespace_keys`` of a PostgresStore (a ``KeyTable``)."""

    mark = "%s"
    # a rotation holds every data key it re-wraps until it commits
    every_key = f"{SqlKeyTable.every_key} FOR UPDATE"

    def add_key(self, namespace: str, key_id: bytes, wrapped: bytes) -> tuple[bytes, bytes]:
        # two writers of a new namespace at once: the second waits here on the first's
        # row, inserts nothing once it commits, and reads the key the first made (each
        # statement sees what is committed before it: READ COMMITTED)
        made = self.conn.execute(
            "INSERT INTO namespace_keys (namespace, key_id, wrapped) VALUES (%s, %s, %s) "
            "ON CONFLICT (namespace) DO NOTHING RETURNING key_id",
            (namespace, key_id, wrapped),
        ).fetchone()
        if made is not None:
            return key_id, wrapped
        held = self.key_of(namespace)
        if held is None:  # made and erased again meanwhile: nothing to share
            raise DecryptionError(f"the data key of namespace {namespace!r} went as it was made")
        return held


class Armoured:
    """A namespace's cipher for this store's text columns: a sealed value is stored as
    its ciphertext in base64; bytes (a vector) are sealed as they are. A plaintext
    store's cipher passes everything through."""

    def __init__(self, inner: Cipher) -> None:
        self.inner = inner

    @property
    def encrypted(self) -> bool:
        return self.inner.encrypted

    def seal(self, value: str, aad: str) -> str:
        sealed = self.inner.seal(value, aad)
        if isinstance(sealed, str):
            return sealed
        return base64.b64encode(sealed).decode("ascii")

    def open(self, value: object, aad: str) -> str:
        if not self.inner.encrypted:
            return self.inner.open(value, aad)
        if not isinstance(value, str):
            raise DecryptionError(f"{aad.split(':')[0]} holds no ciphertext")
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            # never read a plaintext value out of an encrypted store
            raise DecryptionError(f"{aad.split(':')[0]} holds text, not ciphertext") from None
        return self.inner.open(raw, aad)

    def seal_bytes(self, value: bytes, aad: str) -> bytes:
        return self.inner.seal_bytes(value, aad)

    def open_bytes(self, value: object, aad: str) -> bytes:
        return self.inner.open_bytes(value, aad)

    def blind(self, text: str) -> str:
        return self.inner.blind(text)

    def blind_terms(self, terms: list[str]) -> list[str]:
        return self.inner.blind_terms(terms)

    def tag(self, value: str) -> str:
        return self.inner.tag(value)

    def checksum(self, data: bytes) -> bytes:
        return self.inner.checksum(data)


class DataKeys(datakeys.DataKeys[Connection]):
    """The key hierarchy (``security.datakeys``) over a PostgresStore's tables; its
    ciphers are ``Armoured``."""

    def __init__(self, source: EncryptionKey | None, *, encrypt_vectors: bool) -> None:
        super().__init__(source, _PostgresKeys, encrypt_vectors=encrypt_vectors)

    def open(self, db: Database) -> None:
        """Check the master key of an encrypted store as it opens, or make a new,
        empty store encrypted when a key was given."""
        with db.read() as conn:
            recorded = self.recorded(conn)
        if recorded is None and self.source is not None and not db.read_only:
            with db.write("encryption") as conn:
                conn.execute("LOCK TABLE crypto IN EXCLUSIVE MODE")  # one creator at a time
                recorded = self.recorded(conn)  # another process may have just done it
                empty = conn.execute("SELECT 1 FROM engrams LIMIT 1").fetchone() is None
                if recorded is None and empty:
                    self.initialise(conn, datetime.now().astimezone())
                    return
        self.attach(recorded, f"schema {db.schema!r}")

    def cipher(self, conn: Connection, namespace: str, *, create: bool = False) -> Cipher:
        return Armoured(super().cipher(conn, namespace, create=create))


def seal_vector(cipher: Cipher, engram_id: str, vector: npt.NDArray[np.float32]) -> bytes:
    """A vector as ``sealed_vector`` holds it: float16, as ``halfvec`` would, sealed."""
    data = np.asarray(vector, dtype="<f2").tobytes()
    return cipher.seal_bytes(data, f"vectors:{engram_id}")


def open_vector(cipher: Cipher, engram_id: str, sealed: object) -> npt.NDArray[np.float32]:
    data = cipher.open_bytes(sealed, f"vectors:{engram_id}")
    return np.frombuffer(data, dtype="<f2").astype(np.float32)

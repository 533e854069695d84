"""The key hierarchy of an encrypted store, over whichever database keeps its keys.

Owns what every backend does the same way with keys (docs/security.md,
"How it works"): checking the master key when a store opens (its recorded
verifier), making a new store encrypted, a data key per namespace (made in
the transaction that writes the namespace's first memory, so a rollback
leaves none behind), destroying it with the namespace, re-wrapping every data
key under a new master key, and keeping the unwrapped keys of recently used
namespaces. A backend gives the SQL of its two tables (one ``crypto`` row and
``namespace_keys``) as a ``KeyTable`` over one connection inside its
transaction; the cryptography is ``engramdb.security.crypto``. Which values a
store seals, and how they are stored, is the backend's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from engramdb.bounded import Bounded
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

__all__ = ["CACHED_CIPHERS", "SCHEME", "DataKeys", "KeyTable", "NoKey", "Recorded", "parsed"]

#: The namespaces whose unwrapped data keys (and opened values) one open store keeps,
#: most recently used first (docs/limits.md, "Caches").
CACHED_CIPHERS = 64

SCHEME = "aes-256-gcm/hkdf-sha256/hmac-blind-v1"
_KEY_ID_BYTES = 16

C = TypeVar("C")


@dataclass(frozen=True, slots=True)
class Recorded:
    """A store's encryption record: key-derivation parameters, the verifier its master
    key opens, and whether its vectors are sealed."""

    params: dict[str, Any]
    verifier: bytes
    vectors_sealed: bool


class KeyTable(Protocol):
    """The rows of a store's keys, on one connection inside the caller's transaction."""

    def recorded(self) -> Recorded | None: ...

    def record(self, scheme: str, recorded: Recorded, now: datetime) -> None: ...

    def rerecord(self, params: dict[str, Any], verifier: bytes, now: datetime) -> None: ...

    def key_of(self, namespace: str) -> tuple[bytes, bytes] | None:
        """(key id, wrapped data key) of a namespace, or None."""
        ...

    def add_key(self, namespace: str, key_id: bytes, wrapped: bytes) -> tuple[bytes, bytes]:
        """Record a new data key; (key id, wrapped key) as the namespace holds it after:
        this one, or the one another writer recorded first (a backend with concurrent
        writers waits for it rather than fail)."""
        ...

    def rewrap(self, namespace: str, wrapped: bytes) -> None: ...

    def all_keys(self) -> list[tuple[str, bytes, bytes]]: ...

    def drop_key(self, namespace: str) -> None: ...


class NoKey:
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


class DataKeys(Generic[C]):
    """The encryption state of one open store: plaintext, or a verified master key.

    ``table(conn)`` is the backend's ``KeyTable`` on a connection ``C`` of its own
    kind; every method taking ``conn`` runs inside the caller's transaction.
    """

    def __init__(
        self,
        source: EncryptionKey | None,
        table: Callable[[C], KeyTable],
        *,
        encrypt_vectors: bool,
    ) -> None:
        self.source = source
        self.encrypt_vectors = encrypt_vectors
        self.encrypted = False
        self.vectors_sealed = False
        self._table = table
        self._master: MasterKey | None = None
        # Each cipher remembers what it opened (security/crypto.py): a bounded number of
        # namespaces' (docs/limits.md, "Caches"); an evicted one is unwrapped again.
        self._ciphers: Bounded[tuple[str, bytes], NamespaceCipher] = Bounded(CACHED_CIPHERS)

    def recorded(self, conn: C) -> Recorded | None:
        return self._table(conn).recorded()

    def attach(self, recorded: Recorded | None, where: str) -> None:
        """Adopt the store's recorded state; an encrypted store needs the right key.
        ``where`` names the store in messages (never a URL with a password)."""
        if recorded is None:
            if self.source is not None:
                raise StoreError(
                    f"the store at {where} is not encrypted, but a master key is configured: "
                    "to encrypt it in place, open it without the key and run `engram keys "
                    "encrypt-store --new-key-file FILE` (Memory.encrypt in Python; "
                    "docs/security.md)"
                )
            return
        if self.source is None:
            raise DecryptionError(
                f"the store at {where} is encrypted: set ENGRAMDB_MASTER_KEY, "
                "ENGRAMDB_MASTER_KEY_FILE or ENGRAMDB_PASSPHRASE (Settings.encryption)"
            )
        master = master_key(self.source, recorded.params)
        master.verify(recorded.verifier)
        self._master = master
        self._ciphers.clear()
        self.encrypted = True
        self.vectors_sealed = recorded.vectors_sealed

    def initialise(self, conn: C, now: datetime) -> None:
        """Make a new (or a plaintext, being sealed) store encrypted."""
        if self.source is None:
            raise StoreError("no master key to encrypt the store with")
        params = new_params(self.source)
        master = master_key(self.source, params)
        recorded = Recorded(params, master.verifier(), self.encrypt_vectors)
        self._table(conn).record(SCHEME, recorded, now)
        self._master = master
        self.encrypted = True
        self.vectors_sealed = self.encrypt_vectors

    def cipher(self, conn: C, namespace: str, *, create: bool = False) -> Cipher:
        """The namespace's cipher; ``create`` makes its data key when it has none.

        The key row is read on every call (one primary-key lookup): another
        process may have forgotten the namespace and made a new key since.
        """
        table = self._table(conn)
        if not self.encrypted:
            if create and table.recorded() is not None:
                # encrypted in place by another process since this one opened it
                raise StoreError(
                    "the store was encrypted since it was opened: reopen it with its master key"
                )
            return PLAIN
        assert self._master is not None
        row = table.key_of(namespace)
        if row is None:
            if not create:
                return NoKey(namespace)
            self._check_master(table)
            key_id, data_key = os.urandom(_KEY_ID_BYTES), os.urandom(32)
            wrapped = self._master.wrap(data_key, namespace, key_id)
            held_id, held = table.add_key(namespace, key_id, wrapped)
            if held_id != key_id:  # another writer's, made first: that is the key
                key_id, data_key = held_id, self._master.unwrap(held, namespace, held_id)
        else:
            key_id = row[0]
            cached = self._ciphers.get((namespace, key_id))
            if cached is not None:
                return cached
            data_key = self._master.unwrap(row[1], namespace, key_id)
        cipher = NamespaceCipher(data_key)
        self._ciphers[(namespace, key_id)] = cipher
        return cipher

    def ciphers(self, conn: C, *, create: bool = False) -> Callable[[str], Cipher]:
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

    def forget(self, conn: C, namespace: str) -> None:
        """Destroy the namespace's data key with its rows (crypto-shredding)."""
        self._table(conn).drop_key(namespace)
        for key in [k for k in self._ciphers if k[0] == namespace]:
            del self._ciphers[key]

    def rotate(self, conn: C, new: EncryptionKey, now: datetime) -> int:
        """Re-wrap every data key under ``new``; content is not touched. Returns the
        number of data keys re-wrapped."""
        if not self.encrypted or self._master is None:
            raise StoreError("the store is not encrypted: there is no master key to rotate")
        table = self._table(conn)
        self._check_master(table)
        params = new_params(new)
        fresh = master_key(new, params)
        keys = table.all_keys()
        for namespace, key_id, wrapped in keys:
            data_key = self._master.unwrap(wrapped, namespace, key_id)
            table.rewrap(namespace, fresh.wrap(data_key, namespace, key_id))
        table.rerecord(params, fresh.verifier(), now)
        self._master, self.source = fresh, new
        return len(keys)

    def _check_master(self, table: KeyTable) -> None:
        """Refuse to wrap a new data key with a master key that was rotated away."""
        assert self._master is not None
        recorded = table.recorded()
        try:
            if recorded is None:
                raise DecryptionError("the store's encryption record is gone")
            self._master.verify(recorded.verifier)
        except DecryptionError:
            raise DecryptionError(
                "the store's master key changed since it was opened (rotated by another "
                "process?): reopen it with the current key"
            ) from None


def parsed(params: str) -> dict[str, Any]:
    """Recorded key-derivation parameters (stored as JSON text)."""
    found = json.loads(params)
    if not isinstance(found, dict):
        raise DecryptionError("the store's encryption record is malformed")
    return found

"""Envelope encryption at rest (docs/security.md): master key, namespace data keys, ciphers.

The scheme (docs/security.md, "Encryption at rest"):

- The **master key** is 32 bytes from ``ENGRAMDB_MASTER_KEY`` (base64 or hex),
  from a key file, or from a passphrase stretched with scrypt and a per-store
  salt. It never touches the disk; it only wraps data keys.
- Each namespace has its own random 32-byte **data key**, wrapped by the
  master key with AES-256-GCM and stored beside the data. Rotating the master
  key re-wraps the data keys; content is not re-encrypted. Forgetting a
  namespace destroys its data key with its rows.
- From a data key, HKDF-SHA256 derives the **content key** (AES-256-GCM),
  the **index key** (HMAC-SHA256 for the blind lexical index) and the **row
  key** (keyed BLAKE2b: each memory's and version's row MAC, over its clear
  columns and its sealed values as stored). A plaintext store's rows carry an
  unkeyed BLAKE2b checksum instead.
- A sealed value is ``0x01 | 12-byte random nonce | ciphertext | 16-byte tag``;
  its associated data names the table, column and memory it belongs to, so a
  ciphertext copied onto another row or column fails to open.
- The **blind index**: each token (lower-cased, diacritics removed, Snowball
  stemmed) becomes the first 64 bits of its HMAC under the index key, written
  as 20 decimal digits. Equal words give equal tokens inside one namespace, so
  BM25 still works; the words themselves are not on disk.

A wrong key, a truncated or altered ciphertext, or a plaintext value where a
ciphertext belongs raises ``DecryptionError``: nothing falls back to reading
plaintext. This module owns the cryptography and nothing else; where keys and
sealed values are stored is the store's business (``store/sqlite/sealing.py``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import stat
import unicodedata
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from engramdb.config import EncryptionKey
from engramdb.errors import DecryptionError, InvalidInputError

__all__ = [
    "PLAIN",
    "Cipher",
    "MasterKey",
    "NamespaceCipher",
    "blind_tokens",
    "check_source",
    "generate_key",
    "master_key",
    "new_params",
]

KEY_BYTES = 32
_FORMAT = b"\x01"
_NONCE_BYTES = 12
_TAG_BYTES = 16
OVERHEAD = len(_FORMAT) + _NONCE_BYTES + _TAG_BYTES
"""Bytes a sealed value adds to its plaintext."""
_CHECKSUM_BYTES = 16  # a row's checksum or MAC (store/sqlite/checksums.py)
# scrypt at N=2^15, r=8: 32 MiB and about 0.1 s per derivation on this project's
# machines; it runs once per open of a passphrase-protected store.
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}
_VERIFIER = b"engramdb master key check v1"
# Opened values remembered per namespace (about 4 per memory): bounded, then started afresh.
_OPENED_MAX = 400_000
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_stemmer: Any = None


def generate_key() -> str:
    """A fresh random master key as base64 text (what ``engram keys new-master`` prints)."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def _decode_key(text: str, origin: str) -> bytes:
    text = text.strip()
    if re.fullmatch(r"[0-9a-fA-F]{64}", text):
        return bytes.fromhex(text)
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise InvalidInputError(
            f"{origin} is not a master key: expected {KEY_BYTES} random bytes as base64 or "
            "64 hex digits ('engram keys new-master' prints one)"
        )
    return raw


def new_params(source: EncryptionKey) -> dict[str, Any]:
    """Key-derivation parameters for a store being created (a fresh salt for scrypt)."""
    if source.kind == "passphrase":
        return {"kdf": "scrypt", **_SCRYPT, "salt": secrets.token_hex(16)}
    return {"kdf": "raw"}


def check_source(source: EncryptionKey) -> None:
    """Refuse a malformed key, an unreadable key file or a short passphrase early,
    before a store is created or opened with it."""
    if source.kind == "passphrase":
        if len(source.secret) < 8:
            raise InvalidInputError("a passphrase needs at least 8 characters")
    else:
        _raw_key(source)


def master_key(source: EncryptionKey, params: dict[str, Any]) -> MasterKey:
    """The master key from ``source``, derived with the store's recorded parameters."""
    kdf = "scrypt" if source.kind == "passphrase" else "raw"
    recorded = params.get("kdf")
    if recorded != kdf:
        wanted = "a passphrase" if recorded == "scrypt" else "a key (or key file)"
        raise DecryptionError(f"this store's master key is {wanted}, not a {source.kind}")
    if source.kind != "passphrase":
        return MasterKey(_raw_key(source))
    check_source(source)
    scrypt = Scrypt(
        salt=bytes.fromhex(params["salt"]),
        length=KEY_BYTES,
        n=int(params["n"]),
        r=int(params["r"]),
        p=int(params["p"]),
    )
    return MasterKey(scrypt.derive(source.secret.encode("utf-8")))


def _raw_key(source: EncryptionKey) -> bytes:
    """The 32 bytes of a key given as text or in a key file."""
    if source.kind == "file":
        path = Path(source.secret)
        return _decode_key(_read_key_file(path), f"the key file {path}")
    return _decode_key(source.secret, "the master key")


def _read_key_file(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise InvalidInputError(
                f"the key file {path} is readable by others: chmod 600 it "
                "(it protects every memory)"
            )
        return path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise InvalidInputError(f"no key file at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read the key file {path}: {exc}") from exc


class MasterKey:
    """The 32-byte master key: checks itself against a store and wraps data keys."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise InvalidInputError(f"a master key is {KEY_BYTES} bytes")
        self._aead = AESGCM(key)

    def verifier(self) -> bytes:
        """A sealed constant stored with the store: opening it proves the key is right."""
        return _seal(self._aead, _VERIFIER, b"master-verifier")

    def verify(self, verifier: bytes) -> None:
        try:
            ok = _open(self._aead, verifier, b"master-verifier") == _VERIFIER
        except DecryptionError:
            ok = False
        if not ok:
            raise DecryptionError("wrong master key: it does not open this store")

    def wrap(self, data_key: bytes, namespace: str, key_id: bytes) -> bytes:
        return _seal(self._aead, data_key, _wrap_context(namespace, key_id))

    def unwrap(self, wrapped: bytes, namespace: str, key_id: bytes) -> bytes:
        try:
            key = _open(self._aead, wrapped, _wrap_context(namespace, key_id))
        except DecryptionError:
            raise DecryptionError(
                f"the data key of namespace {namespace!r} does not open with this master key "
                "(wrong key, or the key row was altered)"
            ) from None
        if len(key) != KEY_BYTES:
            raise DecryptionError(f"the data key of namespace {namespace!r} is malformed")
        return key


def _wrap_context(namespace: str, key_id: bytes) -> bytes:
    return b"data-key\x00" + namespace.encode("utf-8") + b"\x00" + key_id


class Cipher(Protocol):
    """What the store asks of a namespace's cipher; ``PLAIN`` is the identity."""

    @property
    def encrypted(self) -> bool: ...

    def seal(self, value: str, aad: str) -> str | bytes: ...

    def open(self, value: object, aad: str) -> str: ...

    def seal_bytes(self, value: bytes, aad: str) -> bytes: ...

    def open_bytes(self, value: object, aad: str) -> bytes: ...

    def blind(self, text: str) -> str: ...

    def blind_terms(self, terms: list[str]) -> list[str]: ...

    def tag(self, value: str) -> str: ...

    def checksum(self, data: bytes) -> bytes: ...


class _Plain:
    """The identity cipher of an unencrypted store (values pass through unchanged)."""

    encrypted = False

    def seal(self, value: str, aad: str) -> str | bytes:
        return value

    def open(self, value: object, aad: str) -> str:
        if isinstance(value, str):
            return value
        raise DecryptionError(f"{aad.split(':')[0]} holds a binary value in an unencrypted store")

    def seal_bytes(self, value: bytes, aad: str) -> bytes:
        return value

    def open_bytes(self, value: object, aad: str) -> bytes:
        if isinstance(value, bytes):
            return value
        raise DecryptionError(f"{aad.split(':')[0]} holds text where bytes belong")

    def blind(self, text: str) -> str:
        return text

    def blind_terms(self, terms: list[str]) -> list[str]:
        return terms

    def tag(self, value: str) -> str:
        return value

    def checksum(self, data: bytes) -> bytes:
        """A row's checksum: finds damage, not tampering (anyone can compute it)."""
        return hashlib.blake2b(data, digest_size=_CHECKSUM_BYTES).digest()


PLAIN: Cipher = _Plain()


class NamespaceCipher:
    """AES-256-GCM content encryption and the blind index of one namespace.

    Opened text is remembered by (associated data, ciphertext), so rebuilding
    a namespace's catalog after a write does not decrypt every memory again
    (the catalog holds the same plaintext in memory anyway). A ciphertext moved
    to another row has other associated data and is decrypted, and refused,
    afresh. ``forget_opened`` drops what was remembered (erasure).
    """

    encrypted = True

    def __init__(self, data_key: bytes) -> None:
        content_key, index_key = _derive(data_key, b"content"), _derive(data_key, b"blind-index")
        self._aead = AESGCM(content_key)
        self._index_key = index_key
        self._row_key = _derive(data_key, b"row-checksum")
        self._opened: dict[tuple[str, bytes], str] = {}

    def seal(self, value: str, aad: str) -> bytes:
        return _seal(self._aead, value.encode("utf-8"), aad.encode("utf-8"))

    def open(self, value: object, aad: str) -> str:
        if isinstance(value, bytes):
            found = self._opened.get((aad, value))
            if found is not None:
                return found
        text = self.open_bytes(value, aad).decode("utf-8")
        if len(self._opened) >= _OPENED_MAX:
            self._opened.clear()
        self._opened[(aad, value)] = text  # type: ignore[index]  # bytes: open_bytes checked
        return text

    def forget_opened(self) -> None:
        self._opened.clear()

    def seal_bytes(self, value: bytes, aad: str) -> bytes:
        return _seal(self._aead, value, aad.encode("utf-8"))

    def open_bytes(self, value: object, aad: str) -> bytes:
        if not isinstance(value, bytes):
            # never read a plaintext value out of an encrypted store
            raise DecryptionError(f"{aad.split(':')[0]} of {_subject(aad)} is not ciphertext")
        return _open(self._aead, value, aad.encode("utf-8"), _subject(aad))

    def blind(self, text: str) -> str:
        """The blind tokens of ``text``, space-separated, in order (phrases still match)."""
        return " ".join(self._token(t) for t in blind_tokens(text))

    def blind_terms(self, terms: list[str]) -> list[str]:
        """Each query term as its blind token phrase; terms with no word in them drop out."""
        return [phrase for phrase in (self.blind(term) for term in terms) if phrase]

    def tag(self, value: str) -> str:
        """A keyed token of an exact string (a filter's field or value): equal strings
        give equal tokens, and nothing of the string can be read from it. Tagged
        strings hold a NUL, so a tag never equals a word's token."""
        digest = hmac.digest(self._index_key, b"tag\x00" + value.encode("utf-8"), hashlib.sha256)
        return digest[:16].hex()

    def checksum(self, data: bytes) -> bytes:
        """A row's MAC (keyed BLAKE2b under a key of its own): without the data key, a
        row cannot be altered and given a checksum that matches."""
        return hashlib.blake2b(data, key=self._row_key, digest_size=_CHECKSUM_BYTES).digest()

    def _token(self, word: str) -> str:
        digest = hmac.digest(self._index_key, word.encode("utf-8"), hashlib.sha256)
        return str(int.from_bytes(digest[:8], "big")).zfill(20)


def blind_tokens(text: str) -> list[str]:
    """The words a blind index hashes: lower-cased, without diacritics, Snowball-stemmed."""
    global _stemmer
    folded = "".join(
        c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c)
    )
    words = _TOKEN.findall(folded)
    if not words:
        return []
    if _stemmer is None:
        import Stemmer  # PyStemmer: the Snowball stemmers, compiled

        _stemmer = Stemmer.Stemmer("english")
    return list(_stemmer.stemWords(words))


def _derive(data_key: bytes, purpose: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=b"engramdb " + purpose)
    return hkdf.derive(data_key)


def _seal(aead: AESGCM, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return _FORMAT + nonce + aead.encrypt(nonce, plaintext, aad)


def _open(aead: AESGCM, sealed: bytes, aad: bytes, subject: str = "a value") -> bytes:
    if len(sealed) < OVERHEAD or sealed[:1] != _FORMAT:
        raise DecryptionError(f"{subject}: ciphertext is truncated or of an unknown format")
    nonce = sealed[1 : 1 + _NONCE_BYTES]
    try:
        return aead.decrypt(nonce, sealed[1 + _NONCE_BYTES :], aad)
    except InvalidTag:
        raise DecryptionError(
            f"{subject}: ciphertext does not authenticate (wrong key, or altered on disk)"
        ) from None


def _subject(aad: str) -> str:
    """``engrams.text:ID`` -> ``memory ID (engrams.text)`` for error messages."""
    column, _, rest = aad.partition(":")
    return f"memory {rest.split(':')[0]} ({column})" if rest else column

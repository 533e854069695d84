"""What makes two writes one experience (docs/repetition.md): the identity of a
memory's content and of a caller's idempotency key, as digests every backend stores.

An episode's identity is a digest of its text, speaker, session and event time
(``occurred_at``, to the microsecond, in UTC): the same sentence said by the same
speaker in the same session at the same time is one experience written twice (a
retried or re-run write), while the same sentence said at another time is another
episode. Metadata, importance and emotion are not part of it. An idempotency key is
digested apart (another prefix), so a key never equals a content identity.

The digests are 128-bit BLAKE2b, hex. A plaintext store keeps them as they are; an
encrypted one keeps a keyed tag of each (``Cipher.tag``), so equal content still
finds its match and nothing of the content can be read or guessed from the store.

Also here: what a backend hands back for a digest it holds (``Held``), what the
layers above ask it to record of a repetition (``Repetition``), and the rows of its
``identities`` table that record a memory's digests, with the check of a replayed
key (``identity_rows``, ``key_row``, ``check_key``), the same in every backend. This
module computes no dynamics and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from engramdb.clock import to_iso
from engramdb.errors import ConflictError
from engramdb.security.crypto import Cipher
from engramdb.store.codec import stored_digest
from engramdb.store.records import DynamicsUpdate

__all__ = [
    "Held",
    "IdentityRow",
    "Repetition",
    "check_key",
    "content_identity",
    "identity_rows",
    "key_identity",
    "key_row",
]

#: A row of a backend's ``identities`` table: (namespace, the stored digest, the row of
#: the memory holding it, the stored content identity it was written with).
IdentityRow = tuple[str, str, int, str]


def _digest(prefix: str, payload: str) -> str:
    data = (prefix + "\x00" + payload).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def content_identity(
    text: str, speaker: str | None, session: str | None, occurred_at: datetime | None
) -> str:
    """The identity of an episode's content: equal for the same text, speaker, session
    and event time (compared in UTC to the microsecond), different otherwise.

    ``occurred_at`` None is the content of a write that gave no event time (it
    happened when written): what an idempotency key is checked against, since a
    retry of such a write comes later but is the same request."""
    when = "" if occurred_at is None else to_iso(occurred_at)  # UTC, to the microsecond
    # a JSON array: no choice of separator can make two different tuples one string
    return _digest("content", json.dumps([text, speaker, session, when], ensure_ascii=False))


def key_identity(key: str) -> str:
    """The identity of a caller's idempotency key (never equal to a content identity)."""
    return _digest("key", key)


@dataclass(frozen=True, slots=True)
class Held:
    """A memory that holds a digest in its namespace.

    ``content`` is the content identity the digest was written with: the memory's own
    for a content identity, and for an idempotency key the content of the request
    that first carried it, its event time as given (a replay with other content is
    a conflict). ``repetitions``
    counts the writes found to repeat the memory; ``encountered_at`` is when it was
    last written or repeated (the start of the spacing of the next repetition).
    """

    engram_id: str
    content: str
    repetitions: int
    encountered_at: datetime


@dataclass(frozen=True, slots=True)
class Repetition:
    """A write found to repeat the memory ``engram_id`` (content identity ``content``)
    at ``at``: the backend counts it, makes ``at`` its last encounter, writes
    ``update`` (its strengthening, docs/repetition.md) and records ``key`` (an
    idempotency key's digest, when the write carried a new one) as the memory's,
    for the request content ``request``."""

    engram_id: str
    content: str
    at: datetime
    update: DynamicsUpdate | None = None
    key: str | None = None
    request: str | None = None


def key_row(cipher: Cipher, namespace: str, rowid: int, key: str, content: str) -> IdentityRow:
    """The row that records idempotency ``key`` for a memory, with the content identity
    of the request that carried it."""
    return (namespace, stored_digest(cipher, key), rowid, stored_digest(cipher, content))


def identity_rows(
    cipher: Cipher,
    namespace: str,
    rowid: int,
    identity: str | None,
    key: str | None,
    request: str | None = None,
) -> list[IdentityRow]:
    """The rows that record a new memory's content identity and idempotency key (with
    the content of the request it came with); none for a memory without an identity."""
    if identity is None:
        return []
    content = stored_digest(cipher, identity)
    rows = [(namespace, content, rowid, content)]
    if key is not None:
        rows.append(key_row(cipher, namespace, rowid, key, request or identity))
    return rows


def check_key(
    cipher: Cipher, namespace: str, held: str, identity: str, request: str | None = None
) -> None:
    """Refuse a write whose idempotency key the namespace holds for other content:
    ``held`` is the stored content identity the key was first written with."""
    if held != stored_digest(cipher, request or identity):
        raise ConflictError(
            "this idempotency key was used for other content in namespace "
            f"{namespace!r}; the earlier write stands (docs/repetition.md)"
        )
